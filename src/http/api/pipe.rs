//! Hands a request body to an actor while it arrives. The body (a multipart
//! field, a PATCH payload) cannot leave the request's task, so a small channel
//! carries its chunks to a `'static`, `Send` [`ByteStream`] while this task
//! pumps them: at most [`PIPE_DEPTH`] chunks are in flight, whatever the body's
//! size.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::actors::storage::messages::ByteStream;

/// Chunks in flight between the request and the sink.
const PIPE_DEPTH: usize = 4;

/// Runs `sink` on a stream of `source`'s chunks, pumping them until the source
/// ends, fails (its error is passed on once) or the sink stops reading (it
/// refused the body; the rest is not read).
pub(crate) async fn pump_into<S, E, T, F>(source: S, sink: impl FnOnce(ByteStream) -> F) -> T
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
    F: Future<Output = T>,
{
    let (sender, receiver) = mpsc::channel(PIPE_DEPTH);
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let mut source = source;
    let pump = async move {
        while let Some(chunk) = source.next().await {
            let failed = chunk.is_err();
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    };
    let (result, ()) = futures::join!(sink(Box::pin(body)), pump);
    result
}
