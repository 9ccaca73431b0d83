//! State of a `single_latest` buffer: the current value and its version.

use super::Read;

pub(crate) struct SingleLatest<T> {
    value: Option<T>,
    version: u64,
}

impl<T> SingleLatest<T> {
    pub(crate) fn new() -> Self {
        Self {
            value: None,
            version: 0,
        }
    }

    pub(crate) fn push(&mut self, value: T) {
        self.value = Some(value);
        self.version += 1;
    }

    /// A new reader has seen nothing, so it gets the current value at once.
    pub(crate) fn subscribe_cursor(&self) -> u64 {
        0
    }
}

impl<T: Clone> SingleLatest<T> {
    pub(crate) fn read(&self, seen: &mut u64) -> Read<T> {
        match &self.value {
            Some(v) if self.version > *seen => {
                *seen = self.version;
                Read::Value(v.clone())
            }
            _ => Read::Empty,
        }
    }

    pub(crate) fn newest(&self) -> Option<T> {
        self.value.clone()
    }
}
