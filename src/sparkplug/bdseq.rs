//! `bdSeq`: the birth/death sequence number, one per MQTT connection of the edge node,
//! 0–255 wrapping, kept in a file of the state directory so that a restarted daemon continues
//! where the previous one stopped (a host pairs each NDEATH with its NBIRTH by it).

use std::path::PathBuf;

/// The persisted `bdSeq` counter.
#[derive(Debug)]
pub(crate) struct BdSeq {
    path: PathBuf,
    last: Option<u8>,
}

impl BdSeq {
    /// Reads the last `bdSeq` used from `path`; a missing or unreadable file starts at 0 (an
    /// unreadable one is logged).
    pub(crate) async fn load(path: PathBuf) -> Self {
        let last = match tokio::fs::read_to_string(&path).await {
            Ok(text) => match text.trim().parse::<u8>() {
                Ok(n) => Some(n),
                Err(_) => {
                    tracing::warn!(path = %path.display(), "sparkplug: bdSeq file holds no number 0-255; starting at 0");
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %path.display(), "sparkplug: cannot read bdSeq file: {e}; starting at 0");
                None
            }
        };
        Self { path, last }
    }

    /// The `bdSeq` of the next connection (the last one + 1, wrapping; 0 the first time), written
    /// to the file before it is used. A failed write is logged: the connection goes ahead (a
    /// host then sees a `bdSeq` repeated after a restart, which it tolerates as a rebirth).
    pub(crate) async fn next(&mut self) -> u8 {
        let n = self.last.map_or(0, |l| l.wrapping_add(1));
        self.last = Some(n);
        let tmp = self.path.with_extension("tmp");
        let written = async {
            tokio::fs::write(&tmp, format!("{n}\n")).await?;
            tokio::fs::rename(&tmp, &self.path).await
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), "sparkplug: cannot write bdSeq file: {e}");
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_on_across_loads_and_wraps() {
        let dir = std::env::temp_dir().join(format!("spb-bdseq-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let path = dir.join("sparkplug-bdseq");
        let _ = tokio::fs::remove_file(&path).await;
        let mut b = BdSeq::load(path.clone()).await;
        assert_eq!(b.next().await, 0);
        assert_eq!(b.next().await, 1);
        let mut again = BdSeq::load(path.clone()).await;
        assert_eq!(again.next().await, 2);
        tokio::fs::write(&path, "255").await.unwrap();
        assert_eq!(BdSeq::load(path.clone()).await.next().await, 0);
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }
}
