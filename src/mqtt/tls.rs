//! TLS for `mqtts://`: a rustls client config (ring provider) from the configured files.
//!
//! - `ca_file`: PEM certificates the broker's certificate must chain to. Without it, the system's
//!   trust store is used, as `rustls-native-certs` finds it: `SSL_CERT_FILE` / `SSL_CERT_DIR` if
//!   set, else the distribution's bundle and certificate directory (`/etc/ssl/certs/...`, found
//!   by `openssl-probe`).
//! - `cert_file` + `key_file`: PEM client certificate (chain) and its private key (PKCS#8, PKCS#1
//!   or SEC1), for brokers that require mutual TLS.
//!
//! Files are read when the session connects (so a renewed certificate is picked up on the next
//! reconnect or reload), without blocking the runtime. Errors name the file and what is wrong;
//! key material never appears in them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::mqtt::config::MqttConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {path}: {reason}")]
    Read {
        /// Which setting (`ca_file`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("{what} {path}: {reason}")]
    Parse {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No `ca_file`, and the system trust store gave no usable certificate.
    #[error("the system trust store: no usable CA certificate{}", reasons(.0))]
    SystemRoots(Vec<String>),
    /// rustls rejected the combination.
    #[error("TLS setup: {0}")]
    Rustls(String),
}

/// Builds the client config for `cfg` (which has `tls` set).
pub(crate) async fn client_config(cfg: &MqttConfig) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match &cfg.ca_file {
        Some(ca_path) => {
            let ca_pem = read("ca_file", ca_path).await?;
            let ca_certs = certs("ca_file", ca_path, &ca_pem)?;
            let (added, _ignored) = roots.add_parsable_certificates(ca_certs);
            if added == 0 {
                return Err(TlsError::Parse {
                    what: "ca_file",
                    path: ca_path.clone(),
                    reason: "no usable CA certificate".into(),
                });
            }
        }
        None => {
            let (certs, errors) = system_roots().await;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsError::SystemRoots(errors));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certs("cert_file", cert, &read("cert_file", cert).await?)?;
            let key_pem = read("key_file", key).await?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Parse {
                what: "key_file",
                path: key.clone(),
                reason: format!("no private key found ({})", kind_of(&e)),
            })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| TlsError::Rustls(format!("client certificate and key: {e}")))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The system's trust store through `rustls-native-certs` (blocking file reads, so on the
/// blocking pool): its certificates, and why any part of it could not be read (the errors name
/// files, never their contents).
async fn system_roots() -> (Vec<CertificateDer<'static>>, Vec<String>) {
    match tokio::task::spawn_blocking(rustls_native_certs::load_native_certs).await {
        Ok(found) => (
            found.certs,
            found.errors.iter().map(ToString::to_string).collect(),
        ),
        Err(e) => (Vec::new(), vec![format!("loading task: {e}")]),
    }
}

/// ` (why; why)` after a message, or nothing when there is no reason to give.
fn reasons(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" ({})", errors.join("; "))
    }
}

async fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    tokio::fs::read(path).await.map_err(|e| TlsError::Read {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn certs(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Parse {
            what,
            path: path.to_path_buf(),
            reason: format!("not PEM certificates ({})", kind_of(&e)),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Parse {
            what,
            path: path.to_path_buf(),
            reason: "no PEM certificate in the file".into(),
        });
    }
    Ok(certs)
}

/// A PEM error's kind, never its contents (which could quote key material).
fn kind_of(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { .. } => "a section has no END line",
        E::IllegalSectionStart { .. } => "a malformed BEGIN line",
        E::Base64Decode(_) => "invalid base64",
        E::NoItemsFound => "no item of the expected kind",
        _ => "unreadable PEM",
    }
}
