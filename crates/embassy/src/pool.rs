//! The static task pool engine tasks run in.
//!
//! Embassy tasks are statically allocated: a `#[embassy_executor::task(pool_size = N)]` function
//! has `N` slots, fixed at compile time, and cannot be generic. The engine spawns futures of many
//! types, so each is boxed once (a [`BoxedTask`]) and handed to one slot of a pool whose size the
//! application chooses with [`task_pool!`](crate::task_pool). A slot is free again when its task
//! ends. Spawning into a full pool returns [`SpawnError::PoolFull`]; nothing panics.

use alloc::boxed::Box;
use core::future::Future;
use core::pin::Pin;

use aimdb_core::SpawnError;
use embassy_executor::SendSpawner;

/// An engine task, boxed once when spawned.
pub type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Starts a [`BoxedTask`] in a free slot of a task pool on `spawner`'s executor, or fails with
/// [`SpawnError::PoolFull`]. [`task_pool!`](crate::task_pool) defines one.
pub type SpawnFn = fn(SendSpawner, BoxedTask) -> Result<(), SpawnError>;

/// Defines a task pool of `$size` slots for engine tasks, as a function usable as a
/// [`SpawnFn`]:
///
/// ```ignore
/// aimdb_embassy::task_pool!(aimdb_tasks, 16);   // `fn aimdb_tasks(SendSpawner, BoxedTask) -> Result<(), SpawnError>`
/// let rt = aimdb_embassy::EmbassyAdapter::new(spawner.make_send(), aimdb_tasks);
/// ```
///
/// Size it for every source, tap, transform and outbound link of the graph, plus the connector
/// tasks, plus whatever the application spawns through the adapter. Each slot holds a pointer to
/// the boxed future (the future itself is on the heap), so slots are cheap. The pool is static:
/// all executors (e.g. parallel tests on the host, one executor per thread) share its slots.
#[macro_export]
macro_rules! task_pool {
    ($vis:vis $name:ident, $size:expr) => {
        $vis fn $name(
            spawner: $crate::__private::SendSpawner,
            task: $crate::BoxedTask,
        ) -> ::core::result::Result<(), $crate::__private::SpawnError> {
            #[$crate::__private::embassy_executor::task(
                pool_size = $size,
                embassy_executor = $crate::__private::embassy_executor
            )]
            async fn slot(task: $crate::BoxedTask) {
                task.await
            }
            let token = slot(task).map_err(|_| $crate::__private::SpawnError::PoolFull)?;
            spawner.spawn(token);
            ::core::result::Result::Ok(())
        }
    };
}

/// Boxes `task` and spawns it with `spawn_fn`.
pub(crate) fn spawn_boxed<F>(
    spawner: SendSpawner,
    spawn_fn: SpawnFn,
    task: F,
) -> Result<(), SpawnError>
where
    F: Future<Output = ()> + Send + 'static,
{
    spawn_fn(spawner, Box::pin(task))
}
