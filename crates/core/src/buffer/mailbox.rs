//! State of a `mailbox` buffer: one slot, taken by the first reader.

use alloc::sync::Arc;

use super::Read;

pub(crate) struct Mailbox<T> {
    /// Behind a reusable `Arc` (see [`super::slot`]); a taken value stays here, unread = false,
    /// until the next one replaces it.
    slot: Option<Arc<T>>,
    unread: bool,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Self {
            slot: None,
            unread: false,
        }
    }

    /// Stores a value with `store`; the flag says whether an unread value was overwritten.
    pub(crate) fn push<D, E>(
        &mut self,
        store: impl FnOnce(&mut Option<Arc<T>>) -> Result<D, E>,
    ) -> Result<(D, bool), E> {
        let displaced = store(&mut self.slot)?;
        let overwritten = core::mem::replace(&mut self.unread, true);
        Ok((displaced, overwritten))
    }

    pub(crate) fn take(&mut self) -> Read<Arc<T>> {
        match &self.slot {
            Some(v) if self.unread => {
                self.unread = false;
                Read::Value(v.clone())
            }
            _ => Read::Empty,
        }
    }

    pub(crate) fn peek(&self) -> Option<Arc<T>> {
        if self.unread {
            self.slot.clone()
        } else {
            None
        }
    }
}
