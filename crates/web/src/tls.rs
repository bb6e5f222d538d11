//! HTTPS: the server's certificate and key from PEM files ([`load`]) and the listener that
//! accepts TLS connections for `axum::serve` ([`TlsListener`]).
//!
//! rustls with the *ring* provider (no C toolchain beyond a C compiler; aws-lc would need cmake
//! and nasm). TLS 1.2 and 1.3, HTTP/1.1 by ALPN. Handshakes run in their own tasks with a time
//! limit, so a slow or silent client never holds up the accepting of others.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Why the certificate or key could not be loaded; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("无法读取文件 {path} (cannot read file): {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error("证书文件 {path} 不是有效的 PEM 证书 (not a PEM certificate file): {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1), or a malformed one.
    #[error("私钥文件 {path} 不是有效的 PEM 私钥 (not a PEM private key file): {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key type).
    #[error("证书 {cert} 与私钥 {key} 无法一起使用 (certificate and key cannot be used together): {reason}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        reason: String,
    },
}

/// Reads the certificate chain (`cert`, the server's certificate first) and the private key
/// (`key`) from PEM files and makes the server's TLS configuration (ring provider, TLS 1.2 and
/// 1.3, ALPN `http/1.1`).
///
/// Errors: a file cannot be read, holds no certificate or key, or the key does not fit the
/// certificate; the error names the file.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|source| TlsError::Read { path: cert.to_path_buf(), source })?;
    let key_pem = std::fs::read(key).map_err(|source| TlsError::Read { path: key.to_path_buf(), source })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate { path: cert.to_path_buf(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate { path: cert.to_path_buf(), reason: "没有 BEGIN CERTIFICATE 段 (no certificate found)".into() });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key { path: key.to_path_buf(), reason: e.to_string() })?;
    let pair_error = |e: rustls::Error| TlsError::Pair { cert: cert.to_path_buf(), key: key.to_path_buf(), reason: e.to_string() };
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(pair_error)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(pair_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Longest a client may take over the TLS handshake before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes finished but not yet taken by the server.
const QUEUE: usize = 64;

/// A TCP listener whose connections are TLS streams, for `axum::serve`.
///
/// A background task accepts TCP connections and runs each handshake in a task of its own
/// (at most [`HANDSHAKE_TIMEOUT`]); [`axum::serve::Listener::accept`] hands out the finished
/// ones. A failed handshake is logged at debug level and forgotten. Dropping the listener
/// (the server shutting down) stops the accepting.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting TLS connections on `listener` with `config`.
    ///
    /// Errors: the listener's local address cannot be read.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(QUEUE);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, remote) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, as axum's own listener does.
                        tracing::error!(error = %e, "接受连接失败 (accept failed)");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, remote)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS 握手失败 (TLS handshake failed)"),
                        Err(_) => tracing::debug!("TLS 握手超时 (TLS handshake timed out)"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task ended (it only ends when aborted): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
