//! Connection-level faults: a listener whose connections a handler can kill (dropped
//! connections), and a body that announces its full length but ends early (truncation).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Lets a handler close its own connection without a response.
#[derive(Debug, Clone, Default)]
pub(crate) struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    pub(crate) fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Per-connection info handed to handlers through `ConnectInfo`.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub kill: KillSwitch,
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        Conn { kill: stream.io().kill.clone() }
    }
}

pub(crate) struct KillableListener(pub TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((s, a)) => {
                    let _ = s.set_nodelay(true);
                    return (KillableStream { inner: s, kill: KillSwitch::default() }, a);
                }
                Err(e) => {
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every read and write once killed, so hyper drops the connection
/// before writing a byte of the response.
pub(crate) struct KillableStream {
    inner: TcpStream,
    kill: KillSwitch,
}

fn killed_err() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection dropped by fault injection")
}

impl AsyncRead for KillableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends `head`, pauses (so hyper flushes what it has), then fails: with a `Content-Length` of
/// the full body set on the response, hyper then closes the connection mid-body.
pub(crate) struct EarlyEndBody {
    head: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl EarlyEndBody {
    pub(crate) fn new(head: Bytes) -> Self {
        EarlyEndBody { head: Some(head), pause: Box::pin(tokio::time::sleep(std::time::Duration::from_millis(20))) }
    }
}

impl http_body::Body for EarlyEndBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(b) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "body truncated by fault injection",
            )))),
        }
    }
}
