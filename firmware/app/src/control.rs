//! Commands: what the `node.cmd` mailbox's tap does with each [`NodeCommand`], and the state it
//! shares with the sources.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use aimdb_core::{Consumer, RecvError, Runtime, RuntimeContext};
use aimdb_records::NodeCommand;
use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::watch::{Receiver, Watch};

use crate::config::clamp_sample_period;
use crate::drivers::StatusLed;
use crate::stats::NodeStats;

/// Readers of the sample period: the temperature and the humidity source.
const PERIOD_READERS: usize = 2;

/// State the command tap changes and the rest of the node reads. `Sync`; shared in an `Arc`.
pub struct Control {
    period: Watch<CriticalSectionRawMutex, u32, PERIOD_READERS>,
    led_on: AtomicBool,
    reboot: AtomicBool,
}

impl Control {
    /// Starts with sample period `sample_period_ms`, LED off.
    pub fn new(sample_period_ms: u32) -> Self {
        let period = Watch::new();
        period.sender().send(clamp_sample_period(sample_period_ms));
        Self {
            period,
            led_on: AtomicBool::new(false),
            reboot: AtomicBool::new(false),
        }
    }

    /// The current sample period.
    pub fn sample_period(&self) -> Duration {
        let ms = self
            .period
            .try_get()
            .unwrap_or(crate::config::MIN_SAMPLE_PERIOD_MS);
        Duration::from_millis(u64::from(ms))
    }

    /// Whether the LED is on.
    pub fn led_on(&self) -> bool {
        self.led_on.load(Ordering::Relaxed)
    }

    /// Whether a `Reboot` command was received (the node then shuts down cleanly and
    /// [`run_node`](crate::run_node) returns [`Exit::Reboot`](crate::Exit::Reboot)).
    pub fn reboot_requested(&self) -> bool {
        self.reboot.load(Ordering::Relaxed)
    }

    /// Sets the sample period (clamped); sources sleeping on the old one wake at once.
    pub fn set_sample_period(&self, ms: u32) {
        self.period.sender().send(clamp_sample_period(ms));
    }
}

/// A source's view of the sample period: sleeps one period, waking early when a command
/// changes it.
pub(crate) struct PeriodWatcher<'a> {
    control: &'a Control,
    receiver: Option<Receiver<'a, CriticalSectionRawMutex, u32, PERIOD_READERS>>,
}

impl<'a> PeriodWatcher<'a> {
    /// A watcher for one source (at most [`PERIOD_READERS`] get woken early; others sleep the
    /// period they started with).
    pub(crate) fn new(control: &'a Control) -> Self {
        let mut receiver = control.period.receiver();
        if let Some(r) = receiver.as_mut() {
            // The current period counts as seen: only a change ends a wait early.
            let _ = r.try_changed();
        }
        Self { control, receiver }
    }

    /// Sleeps one sample period, or until the period changes.
    pub(crate) async fn wait<R: Runtime>(&mut self, ctx: &RuntimeContext<R>) {
        let sleep = ctx.runtime().sleep(self.control.sample_period());
        match self.receiver.as_mut() {
            Some(r) => {
                select(sleep, r.changed()).await;
            }
            None => sleep.await,
        }
    }
}

/// The `node.cmd` tap: carries out each command taken from the mailbox until it closes.
pub(crate) async fn command_tap<R: Runtime, L: StatusLed>(
    ctx: RuntimeContext<R>,
    mut commands: Consumer<NodeCommand, R>,
    control: Arc<Control>,
    stats: Arc<NodeStats>,
    mut led: L,
) {
    loop {
        let command = match commands.recv().await {
            Ok(c) => c,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        match command {
            NodeCommand::SetSamplePeriod { ms } => {
                control.set_sample_period(ms);
                ctx.log().info(format_args!(
                    "sample period set to {} ms",
                    control.sample_period().as_millis()
                ));
            }
            NodeCommand::SetLed { on } => {
                control.led_on.store(on, Ordering::Relaxed);
                led.set(on);
                ctx.log()
                    .info(format_args!("led {}", if on { "on" } else { "off" }));
            }
            NodeCommand::Identify => {
                ctx.log().info("identify: blinking");
                for i in 0..6 {
                    led.set(i % 2 == 0);
                    ctx.time().sleep(Duration::from_millis(150)).await;
                }
                led.set(control.led_on());
            }
            NodeCommand::Reboot => {
                ctx.log().warn("reboot requested: shutting down");
                control.reboot.store(true, Ordering::Relaxed);
                ctx.shutdown().raise();
            }
        }
        NodeStats::bump(&stats.commands_applied);
    }
}
