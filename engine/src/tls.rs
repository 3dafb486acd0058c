//! The server's TLS configuration: certificate loading, the self-signed
//! default certificate and the one rustls [`ServerConfig`] every listener shares.
//!
//! [`server_config`] runs once at start. With `[tls] cert` and `key` set, it
//! reads those PEM files (the certificate file may hold a chain, leaf first).
//! With both empty, it uses `<data>/tls/cert.pem` and `<data>/tls/key.pem`,
//! generating a self-signed certificate for the host name and `localhost` on
//! first start, so a fresh install offers STARTTLS at once and later starts
//! serve the same certificate. Every failure is a [`TlsSetupError`] that names
//! the file, because the server must refuse to start with a broken certificate
//! rather than run without TLS.
//!
//! The crypto provider is `ring`, as in the load generator, and the protocol
//! versions are rustls's safe defaults (TLS 1.2 and 1.3).

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::TlsConfig;

/// Maximum size of a certificate or key PEM file. A chain of a few
/// certificates is under 20 KiB; the cap stops a wrong path (a log, a disk
/// image) from being read whole into memory.
pub const PEM_FILE_SIZE_MAX: u64 = 1024 * 1024;

/// Maximum certificates in the chain file. Real chains have two to four.
pub const CHAIN_LEN_MAX: usize = 16;

/// Directory under the data directory that contains the generated certificate.
pub const GENERATED_DIR: &str = "tls";

/// Error from setting up the server's TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// Only one of `tls.cert` and `tls.key` is set.
    #[error(
        "tls.cert and tls.key must both be set or both be empty (cert = {cert:?}, key = {key:?})"
    )]
    HalfConfigured { cert: String, key: String },
    /// A file could not be read or written.
    #[error("tls file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A PEM file is larger than [`PEM_FILE_SIZE_MAX`].
    #[error("tls file {path}: size {size} octets exceeds the maximum of {max} octets")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    /// A PEM file contains no usable certificate or key, or is malformed.
    #[error("tls file {path}: {reason}")]
    InvalidPem { path: PathBuf, reason: String },
    /// rustls rejected the certificate and key, for example because the key
    /// does not match the certificate.
    #[error("tls certificate {cert} with key {key}: {reason}")]
    Rejected {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    /// Generating the self-signed certificate failed.
    #[error("generating the self-signed certificate failed: {0}")]
    Generate(String),
}

/// Builds the shared server configuration from `[tls]`, generating the
/// default certificate under `data_dir` when none is configured.
pub fn server_config(
    tls: &TlsConfig,
    data_dir: &Path,
    hostname: &str,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let (cert_path, key_path) = match (tls.cert.is_empty(), tls.key.is_empty()) {
        (false, false) => (PathBuf::from(&tls.cert), PathBuf::from(&tls.key)),
        (true, true) => ensure_generated(data_dir, hostname)?,
        _ => {
            return Err(TlsSetupError::HalfConfigured {
                cert: tls.cert.clone(),
                key: tls.key.clone(),
            })
        }
    };

    let chain = load_chain(&cert_path)?;
    let key = load_key(&key_path)?;

    // rustls 0.23.48 deprecates the ring provider because it lacks
    // post-quantum key exchange. Ring avoids the C and cmake build of
    // aws-lc-rs, and the load generator uses it too.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let rejected = |error: rustls::Error| TlsSetupError::Rejected {
        cert: cert_path.clone(),
        key: key_path.clone(),
        reason: error.to_string(),
    };
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(rejected)?;
    tracing::info!(cert = %cert_path.display(), key = %key_path.display(), "tls certificate loaded");
    Ok(Arc::new(config))
}

/// Returns the paths of the generated certificate and key, creating both
/// when the certificate file does not exist yet.
fn ensure_generated(data_dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsSetupError> {
    let dir = data_dir.join(GENERATED_DIR);
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.exists() {
        return Ok((cert_path, key_path));
    }

    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsSetupError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io_error(&dir))?;

    let mut names = vec![hostname.to_string()];
    if !hostname.eq_ignore_ascii_case("localhost") {
        names.push("localhost".to_string());
    }
    let generated = rcgen::generate_simple_self_signed(names.clone())
        .map_err(|error| TlsSetupError::Generate(error.to_string()))?;

    // The key goes first: a crash between the two writes leaves no
    // certificate, so the next start generates both again.
    write_atomically(
        &key_path,
        generated.key_pair.serialize_pem().as_bytes(),
        0o600,
    )
    .map_err(io_error(&key_path))?;
    write_atomically(&cert_path, generated.cert.pem().as_bytes(), 0o644)
        .map_err(io_error(&cert_path))?;
    tracing::info!(cert = %cert_path.display(), ?names, "generated a self-signed tls certificate");
    Ok((cert_path, key_path))
}

/// Writes `contents` to a temporary file beside `path` with `mode`, syncs it
/// and renames it over `path`, so a reader sees the old file or the whole
/// new one.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let temporary = path.with_extension("pem.tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)?;
    // The mode given to open is filtered by the umask; set it exactly.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads a PEM file of at most [`PEM_FILE_SIZE_MAX`] octets.
fn read_pem(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    let io_error = |source| TlsSetupError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = fs::metadata(path).map_err(io_error)?.len();
    if size > PEM_FILE_SIZE_MAX {
        return Err(TlsSetupError::TooLarge {
            path: path.to_path_buf(),
            size,
            max: PEM_FILE_SIZE_MAX,
        });
    }
    fs::read(path).map_err(io_error)
}

/// Reads the certificate chain, leaf first.
fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let invalid = |reason: String| TlsSetupError::InvalidPem {
        path: path.to_path_buf(),
        reason,
    };
    let pem = read_pem(path)?;
    let mut chain = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate =
            certificate.map_err(|error| invalid(format!("invalid certificate PEM: {error}")))?;
        if chain.len() == CHAIN_LEN_MAX {
            return Err(invalid(format!(
                "more than {CHAIN_LEN_MAX} certificates in the chain"
            )));
        }
        chain.push(certificate);
    }
    if chain.is_empty() {
        return Err(invalid("no CERTIFICATE block found".to_string()));
    }
    Ok(chain)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) in the file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let pem = read_pem(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| TlsSetupError::InvalidPem {
        path: path.to_path_buf(),
        reason: format!("no valid private key: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_and_second_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsConfig::default();
        server_config(&tls, dir.path(), "mx.example.org").expect("first start");
        let cert_path = dir.path().join("tls/cert.pem");
        let key_path = dir.path().join("tls/key.pem");
        let first = fs::read(&cert_path).unwrap();
        let key_mode = fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(key_mode, 0o600, "key file mode");

        server_config(&tls, dir.path(), "mx.example.org").expect("second start");
        let second = fs::read(&cert_path).unwrap();
        assert_eq!(first, second, "second start generated a new certificate");
    }

    #[test]
    fn half_configured_tls_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsConfig {
            cert: "cert.pem".to_string(),
            key: String::new(),
        };
        let error = server_config(&tls, dir.path(), "localhost").unwrap_err();
        assert!(
            matches!(error, TlsSetupError::HalfConfigured { .. }),
            "{error}"
        );
    }

    #[test]
    fn broken_pem_error_names_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("broken-cert.pem");
        let key = dir.path().join("broken-key.pem");
        fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        fs::write(&key, "no key here\n").unwrap();
        let tls = TlsConfig {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        };
        let error = server_config(&tls, dir.path(), "localhost")
            .unwrap_err()
            .to_string();
        assert!(error.contains("broken-cert.pem"), "{error}");
    }

    #[test]
    fn missing_key_block_error_names_file() {
        let dir = tempfile::tempdir().unwrap();
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("empty-key.pem");
        fs::write(&cert, generated.cert.pem()).unwrap();
        fs::write(&key, "").unwrap();
        let tls = TlsConfig {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        };
        let error = server_config(&tls, dir.path(), "localhost")
            .unwrap_err()
            .to_string();
        assert!(error.contains("empty-key.pem"), "{error}");
    }

    #[test]
    fn key_of_other_certificate_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let first = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let second = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("other-key.pem");
        fs::write(&cert, first.cert.pem()).unwrap();
        fs::write(&key, second.key_pair.serialize_pem()).unwrap();
        let tls = TlsConfig {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
        };
        let error = server_config(&tls, dir.path(), "localhost").unwrap_err();
        assert!(matches!(error, TlsSetupError::Rejected { .. }), "{error}");
        assert!(error.to_string().contains("other-key.pem"), "{error}");
    }
}
