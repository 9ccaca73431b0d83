//! State of a `single_latest` buffer: the current value and its version.

use alloc::sync::Arc;

use super::Read;

pub(crate) struct SingleLatest<T> {
    /// Behind a reusable `Arc` (see [`super::slot`]).
    value: Option<Arc<T>>,
    version: u64,
}

impl<T> SingleLatest<T> {
    pub(crate) fn new() -> Self {
        Self {
            value: None,
            version: 0,
        }
    }

    /// Replaces the current value with `store`; the version moves on only if it succeeds.
    pub(crate) fn push<D, E>(
        &mut self,
        store: impl FnOnce(&mut Option<Arc<T>>) -> Result<D, E>,
    ) -> Result<D, E> {
        let displaced = store(&mut self.value)?;
        self.version += 1;
        Ok(displaced)
    }

    /// A new reader has seen nothing, so it gets the current value at once.
    pub(crate) fn subscribe_cursor(&self) -> u64 {
        0
    }

    pub(crate) fn read(&self, seen: &mut u64) -> Read<Arc<T>> {
        match &self.value {
            Some(v) if self.version > *seen => {
                *seen = self.version;
                Read::Value(v.clone())
            }
            _ => Read::Empty,
        }
    }

    pub(crate) fn newest(&self) -> Option<Arc<T>> {
        self.value.clone()
    }
}
