//! `log`: logs every value of its record (as JSON) and, when the record closes, how many values
//! it saw. The final line (`tap log done ... values=N lagged=M`) is how an operator (and the
//! lifecycle test) can check that a shutdown handed every accepted value to its taps.

use std::sync::Arc;

use aimdb_core::{BoxFuture, RuntimeContext};
use serde::Deserialize;

use crate::components::{ComponentTable, ParamDoc, TapEvent, TapFeed, TapInstance, TapKind};
use crate::diagnostics::Problem;
use crate::Rt;

/// Registration.
pub(crate) static KIND: TapKind = TapKind {
    kind: "log",
    doc: "logs every value as JSON, and a count when the record closes",
    params: &[
        ParamDoc {
            name: "level",
            ty: "string",
            default: "\"info\"",
            doc: "log level of the per-value lines: trace, debug, info, warn",
        },
        ParamDoc {
            name: "pace_ms",
            ty: "integer",
            default: "0",
            doc: "wait this long after each value: a deliberately slow consumer, to see lag \
                  and bounded drains at work",
        },
    ],
    parse,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogTap {
    #[serde(default = "default_level")]
    level: Level,
    #[serde(default)]
    pace_ms: u32,
}

fn default_level() -> Level {
    Level::Info
}

fn parse(t: &ComponentTable) -> Result<Arc<dyn TapInstance>, Vec<Problem>> {
    let tap: LogTap = t.params(&[]).map_err(|p| vec![p])?;
    Ok(Arc::new(tap))
}

impl TapInstance for LogTap {
    fn describe(&self) -> String {
        "log".into()
    }

    fn run(&self, ctx: RuntimeContext<Rt>, mut feed: TapFeed) -> BoxFuture {
        let level = self.level;
        let pace = std::time::Duration::from_millis(u64::from(self.pace_ms));
        Box::pin(async move {
            let record = ctx.key().to_string();
            let (mut values, mut lagged) = (0u64, 0u64);
            while let Some(event) = feed.next().await {
                match event {
                    TapEvent::Value(v) => {
                        values += 1;
                        match level {
                            Level::Trace => {
                                tracing::trace!(record = %record, value = %v, "tap log")
                            }
                            Level::Debug => {
                                tracing::debug!(record = %record, value = %v, "tap log")
                            }
                            Level::Info => tracing::info!(record = %record, value = %v, "tap log"),
                            Level::Warn => tracing::warn!(record = %record, value = %v, "tap log"),
                        }
                        if !pace.is_zero() {
                            ctx.time().sleep(pace).await;
                        }
                    }
                    TapEvent::Lagged(n) => {
                        lagged += n;
                        tracing::warn!(record = %record, missed = n, "tap log lagged");
                    }
                }
            }
            tracing::info!(record = %record, values, lagged, "tap log done");
        })
    }
}
