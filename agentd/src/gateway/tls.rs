//! `[runtime.gateway.tls]`: the gateway's certificate and key (PEM files), read at start-up
//! and again on SIGHUP. A new pair serves the connections accepted after the reload; those
//! open keep theirs. A pair that does not load is said and the one in use kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct Certs {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl Certs {
    /// Reads the pair; says which file is wrong and how.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Certs>, String> {
        let acceptor = acceptor(cert_file, key_file)?;
        Ok(Arc::new(Certs {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: RwLock::new(acceptor),
        }))
    }

    /// Reads the files again; on success the next connections get the new pair.
    pub fn reload(&self) -> Result<(), String> {
        let acceptor = acceptor(&self.cert_file, &self.key_file)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = acceptor;
        tracing::info!(cert = %self.cert_file.display(), "gateway certificate reloaded");
        Ok(())
    }

    pub(super) fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, String> {
    let shown = |p: &Path| p.display().to_string();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("cannot read the certificate {}: {e}", shown(cert_file)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not a PEM certificate chain: {e}", shown(cert_file)))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no certificate (a PEM \"BEGIN CERTIFICATE\" block)",
            shown(cert_file)
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "cannot read a private key (PEM, PKCS#8, PKCS#1 or SEC1) from {}: {e}",
            shown(key_file)
        )
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "{} and {} do not make a certificate and its key: {e}",
                shown(cert_file),
                shown(key_file)
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
