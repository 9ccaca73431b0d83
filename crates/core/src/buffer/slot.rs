//! A value slot whose value is cloned and dropped outside the buffer's lock.
//!
//! A slot keeps its value behind an `Arc`. Under the lock a reader only takes a reference (one
//! atomic increment) and runs `T::clone` after the lock is released; a writer swaps the new value
//! in and hands the old one back, to be dropped after the lock is released. The `Arc`s are reused:
//! a write puts the value into the slot's `Arc` in place when no reader holds it, else into a free
//! spare (the held one becomes a spare once its reader lets go). So storing allocates only while
//! slots are first filled, and when every spare is held by a reader at that moment; then the
//! caller allocates the `Arc` outside the lock and stores it with [`store_shared`].
//!
//! Cost: a spare keeps a stale value alive until it is reused (at most [`SPARES`] per buffer).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem;

/// Spare `Arc`s a buffer keeps for writes that find their slot held by a reader.
pub(crate) const SPARES: usize = 2;

/// What a write displaced; the caller drops it after releasing the lock.
#[must_use = "drop it after releasing the lock"]
pub(crate) struct Displaced<T> {
    _value: Option<T>,
    _shared: Option<Arc<T>>,
}

/// The `Arc`s free for reuse, with their capacity reserved when the buffer is made.
pub(crate) struct Spares<T> {
    arcs: Vec<Arc<T>>,
}

impl<T> Spares<T> {
    pub(crate) fn new() -> Self {
        Self {
            arcs: Vec::with_capacity(SPARES),
        }
    }

    /// Makes room for `more` spares beyond the current room, for a reader that holds up to
    /// `more` references between visits (see [`super::ReadAhead`]). Allocates (once, when a
    /// reader is made), never on the per-value path.
    pub(crate) fn reserve(&mut self, more: usize) {
        let want = self.arcs.capacity() + more;
        self.arcs.reserve_exact(want - self.arcs.len());
    }

    /// Keeps `arc` for reuse if there is room (never grows), else returns it.
    fn keep(&mut self, arc: Arc<T>) -> Option<Arc<T>> {
        if self.arcs.len() < self.arcs.capacity() {
            self.arcs.push(arc);
            None
        } else {
            Some(arc)
        }
    }

    /// A spare no reader holds, with its stale value replaced by `value`.
    fn take_free(&mut self, value: T) -> Result<(Arc<T>, T), T> {
        let Some(i) = self.arcs.iter_mut().position(|a| Arc::get_mut(a).is_some()) else {
            return Err(value);
        };
        let mut arc = self.arcs.swap_remove(i);
        match Arc::get_mut(&mut arc) {
            Some(v) => {
                let stale = mem::replace(v, value);
                Ok((arc, stale))
            }
            // Not reachable: nothing else can take a reference while the lock is held.
            None => {
                let _ = self.keep(arc);
                Err(value)
            }
        }
    }
}

/// Stores `value` into `slot`, reusing the slot's `Arc` or a free spare. Never allocates:
/// `Err` hands the value back when no `Arc` is free (the caller wraps it in one outside the
/// lock and stores that with [`store_shared`]).
pub(crate) fn store<T>(
    slot: &mut Option<Arc<T>>,
    value: T,
    spares: &mut Spares<T>,
) -> Result<Displaced<T>, T> {
    if let Some(v) = slot.as_mut().and_then(Arc::get_mut) {
        return Ok(Displaced {
            _value: Some(mem::replace(v, value)),
            _shared: None,
        });
    }
    let (arc, stale) = spares.take_free(value)?;
    Ok(Displaced {
        _value: Some(stale),
        _shared: slot.replace(arc).and_then(|p| spares.keep(p)),
    })
}

/// Stores an `Arc` made outside the lock; the slot's previous one becomes a spare if there is
/// room.
pub(crate) fn store_shared<T>(
    slot: &mut Option<Arc<T>>,
    arc: Arc<T>,
    spares: &mut Spares<T>,
) -> Result<Displaced<T>, core::convert::Infallible> {
    Ok(Displaced {
        _value: None,
        _shared: slot.replace(arc).and_then(|p| spares.keep(p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ptr(slot: &Option<Arc<u32>>) -> *const u32 {
        slot.as_ref().map_or(core::ptr::null(), Arc::as_ptr)
    }

    #[test]
    fn a_write_reuses_the_arcs_readers_let_go() {
        let mut slot = None;
        let mut spares = Spares::new();
        // First fill: no `Arc` yet, the caller makes one outside the lock.
        assert_eq!(store(&mut slot, 1, &mut spares).err(), Some(1));
        let Ok(_) = store_shared(&mut slot, Arc::new(1), &mut spares);
        let first = ptr(&slot);
        // Nobody holds it: replaced in place.
        assert!(store(&mut slot, 2, &mut spares).is_ok());
        assert_eq!(ptr(&slot), first);
        // A reader holds it (cloning outside the lock) and there is no spare yet.
        let reader = slot.clone();
        assert_eq!(store(&mut slot, 3, &mut spares).err(), Some(3));
        let Ok(_) = store_shared(&mut slot, Arc::new(3), &mut spares);
        assert_eq!(
            reader.as_deref(),
            Some(&2),
            "the reader's value is untouched"
        );
        drop(reader);
        // The new slot is held now; the first `Arc`, let go, is reused from the spares.
        let reader = slot.clone();
        let displaced = store(&mut slot, 4, &mut spares).expect("a free spare");
        assert_eq!(ptr(&slot), first);
        assert_eq!(slot.as_deref(), Some(&4));
        assert_eq!(reader.as_deref(), Some(&3));
        drop(displaced);
    }
}
