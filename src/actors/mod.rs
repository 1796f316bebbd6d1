//! The actor graph. Each actor owns one resource and says so in its module doc:
//!
//! - [`supervisor`] starts the others, keeps their addresses, answers readiness;
//! - [`accounts`] carries out the account use cases (registering, signing in,
//!   passwords, mailed links, API tokens), coordinating the actors below;
//! - [`catalog`] owns the database pool;
//! - [`storage`] owns the object store;
//! - [`dispatcher`] owns the transport's publishing side and reconciles;
//! - [`reader`] owns the transport's consuming side;
//! - [`runner`] carries one job through one attempt;
//! - [`processors`] owns the processor children (`kiln processor`), one per slot;
//! - [`transformer`] makes transforms on request and keeps their cache, with
//!   processor children of its own;
//! - [`events`] fans status changes out (Redis pub/sub when scaled out);
//! - [`credentials`] hashes passwords on its own threads;
//! - [`limiter`] counts attempts (sign-ins, registrations, mails asked for)
//!   before they run, and says when to refuse (in Redis when scaled out);
//! - [`mailer`] sends account mail (SMTP, or `.eml` files on the embedded default);
//! - [`redis`] owns Redis's connections, when `REDIS_URL` is set;
//! - [`webhooks`] (the Courier) sends webhook deliveries from the outbox;
//! - [`retention`] purges files older than `FILE_RETENTION`, when it is set,
//!   and resumable uploads past `UPLOAD_EXPIRY`;
//!
//! and [`restart`] is the backoff every supervised actor waits before it is
//! started again.
//!
//! HTTP handlers hold only [`ActorHandles`] and talk to actors with typed messages.

pub mod accounts;
pub mod catalog;
pub mod credentials;
pub mod dispatcher;
pub mod events;
pub mod ingest;
pub mod limiter;
pub mod mailer;
pub mod processors;
pub mod reader;
pub mod redis;
pub mod restart;
pub mod retention;
pub mod runner;
pub mod storage;
pub mod supervisor;
pub mod transformer;
pub mod webhooks;

use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, MailboxError, Message};

pub use supervisor::ActorHandles;

/// An actor's address that answers `M` with a `Result`: what the web layer
/// and the use-case actors ask the actors they depend on through.
pub trait Asks<M> {
    /// What the actor answers when the work is done.
    type Value;
    /// The actor's own error.
    type Error;

    /// Sends `msg` and waits at most `limit` for the reply. The mailbox's
    /// failure (the actor stopped, or the wait ran out) and the actor's own
    /// error both become the caller's error type.
    fn ask_within<Err>(
        &self,
        msg: M,
        limit: Duration,
    ) -> impl Future<Output = Result<Self::Value, Err>>
    where
        Err: From<Self::Error> + From<MailboxError>;
}

impl<A, M, T, E> Asks<M> for Addr<A>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message<Result = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Value = T;
    type Error = E;

    async fn ask_within<Err>(&self, msg: M, limit: Duration) -> Result<T, Err>
    where
        Err: From<E> + From<MailboxError>,
    {
        Ok(self.send(msg).timeout(limit).await??)
    }
}

/// Implements `Handler<M>` for an actor whose use cases are async methods of
/// a cloneable field (the actors it coordinates): each message is carried out
/// by the method named after it, as a future of its own under a span named
/// after the method, with the request id found at the path in brackets.
///
/// ```ignore
/// use_cases! {
///     Accounts.peers:
///     Register => register [request_id],
/// }
/// ```
macro_rules! use_cases {
    ($actor:ident . $field:ident : $($message:ident => $method:ident [$($request_id:ident).+]),* $(,)?) => {$(
        impl ::actix::Handler<$message> for $actor {
            type Result = ::actix::ResponseFuture<<$message as ::actix::Message>::Result>;

            fn handle(&mut self, msg: $message, _: &mut Self::Context) -> Self::Result {
                let span = ::tracing::info_span!(
                    concat!(stringify!($actor), "::", stringify!($method)),
                    request_id = %msg$(.$request_id)+
                );
                let peers = self.$field.clone();
                Box::pin(::tracing::Instrument::instrument(
                    async move { peers.$method(msg).await },
                    span,
                ))
            }
        }
    )*};
}
pub(crate) use use_cases;
