//! The accept loop: TCP connections are handshaken concurrently (a slow or hostile client never
//! blocks the others), and only connections that completed TLS 1.3 with a verified client
//! certificate naming a principal reach tonic.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use super::ReloadingTls;
use crate::auth::Peer;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for tonic to pick them up.
const BACKLOG: usize = 128;

/// A TLS connection with a verified client certificate and the principal it speaks for.
pub struct TlsConnection {
    stream: TlsStream<TcpStream>,
    peer: Peer,
}

impl Connected for TlsConnection {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The stream of authenticated connections tonic serves.
pub struct TlsIncoming {
    connections: mpsc::Receiver<TlsConnection>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsIncoming {
    /// Starts accepting on `listener` with the (reloading) TLS configuration.
    pub fn new(listener: TcpListener, tls: ReloadingTls) -> Self {
        let (sender, connections) = mpsc::channel(BACKLOG);
        let accept_task = tokio::spawn(accept_loop(listener, tls, sender));
        Self {
            connections,
            accept_task,
        }
    }
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl futures::Stream for TlsIncoming {
    type Item = Result<TlsConnection, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx).map(|next| next.map(Ok))
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: ReloadingTls,
    sender: mpsc::Sender<TlsConnection>,
) {
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = tls.acceptor();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => match authenticated_peer(&stream, remote) {
                    Some(peer) => {
                        tracing::debug!(%remote, principal = %peer.principal(), "client connected");
                        let _ = sender.send(TlsConnection { stream, peer }).await;
                    }
                    None => {
                        tracing::warn!(%remote, "client certificate names no principal; connection closed")
                    }
                },
                Ok(Err(err)) => tracing::info!(%remote, error = %err, "TLS handshake refused"),
                Err(_) => tracing::info!(%remote, "TLS handshake timed out"),
            }
        });
    }
}

fn authenticated_peer(stream: &TlsStream<TcpStream>, remote: SocketAddr) -> Option<Peer> {
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    let principal = lockstep_certs::principal_from_der(leaf.as_ref()).ok()??;
    Some(Peer::new(Arc::from(principal), remote))
}
