//! State of a `mailbox` buffer: one slot, taken by the first reader.

use super::Read;

pub(crate) struct Mailbox<T> {
    slot: Option<T>,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Self { slot: None }
    }

    /// Stores `value`; returns `true` when an unread value was overwritten.
    pub(crate) fn push(&mut self, value: T) -> bool {
        self.slot.replace(value).is_some()
    }

    pub(crate) fn take(&mut self) -> Read<T> {
        match self.slot.take() {
            Some(v) => Read::Value(v),
            None => Read::Empty,
        }
    }

    pub(crate) fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        self.slot.clone()
    }
}
