//! Tower middleware (feature `tower`) and an axum extractor (feature `axum`).
//!
//! [`SessionLayer`] wraps any `tower::Service<http::Request<B>>`: before the inner
//! service runs it loads the session from the request's `Cookie` header(s)
//! ([`SessionConfig::load`]) and puts a [`SessionHandle`] into the request's
//! extensions; after the inner service answered it ends the session
//! ([`Session::finish`]) and appends the `Set-Cookie` header the session layer
//! decided on (Beaker's rules: saved sessions are written, accessed ones re-issued,
//! old-key and original-format cookies re-issued in the current key and format).
//!
//! A cookie the client sent and the codec rejected never becomes a 500:
//!
//! * with `invalidate_corrupt` (on by default, as in Beaker's `SessionMiddleware`)
//!   the session layer replaces it by a fresh session, and this layer logs
//!   `tracing::warn!` with the error kind only;
//! * when loading fails anyway (`invalidate_corrupt` off, or a cookie whose
//!   authenticated contents cannot be written back), the layer applies its
//!   [`RejectedCookie`] policy: a fresh session (the default) or an error status
//!   chosen with [`SessionLayer::reject_with`], without calling the inner service.
//!
//! The log events never contain the cookie, a key or session data.
//!
//! Failing to *write* the session (for instance a session too large for a cookie,
//! [`Error::CookieTooLong`]) is a server-side fault: as in Beaker, where the
//! exception escapes the middleware, the response becomes a `500 Internal Server
//! Error` without `Set-Cookie` (never a cookie that browsers would drop or truncate),
//! and the layer logs `tracing::error!` with the error kind.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use beaker_session_jwt::{BeakerOptions, SessionConfig};
//! use beaker_session_jwt::middleware::{SessionHandle, SessionLayer};
//!
//! async fn index(session: SessionHandle) -> String {
//!     let mut s = session.lock();
//!     let visits = s.get("visits").and_then(|v| v.as_i32()).unwrap_or(0) + 1;
//!     s.insert("visits", visits);
//!     s.save();
//!     format!("visit {visits}")
//! }
//!
//! let options = BeakerOptions::from_ini_file("development.ini", "app:main")?;
//! let app = Router::new()
//!     .route("/", get(index))
//!     .layer(SessionLayer::new(SessionConfig::from_options(&options)?));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode, header::SET_COOKIE};
use tower::{Layer, Service};

#[allow(unused_imports)] // for intra-doc links
use crate::Error;
use crate::session::{Session, SessionConfig};

/// What the layer does when a request's session cannot be loaded (see the
/// [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RejectedCookie {
    /// Start a fresh session, as if the request had no cookie (the default). The
    /// browser's cookie is replaced as soon as the application saves.
    #[default]
    NewSession,
    /// Answer with this status and an empty body, without calling the inner service.
    Respond(StatusCode),
}

/// A `tower::Layer` that gives every request a Beaker session (feature `tower`).
///
/// Cheap to clone; build it once from a [`SessionConfig`].
#[derive(Clone, Debug)]
pub struct SessionLayer {
    config: SessionConfig,
    rejected: RejectedCookie,
}

impl SessionLayer {
    /// A layer over a session configuration. Rejected cookies become fresh
    /// sessions; see [`reject_with`](Self::reject_with).
    pub fn new(config: SessionConfig) -> Self {
        SessionLayer {
            config,
            rejected: RejectedCookie::NewSession,
        }
    }

    /// Answers `status` (for instance `400 Bad Request`) instead of starting a fresh
    /// session when a request's session cannot be loaded. With `invalidate_corrupt`
    /// on (the default), the session layer already replaces rejected cookies by
    /// fresh sessions, so this only applies to what it cannot replace; set
    /// `invalidate_corrupt` to an empty value, or
    /// [`SessionConfigBuilder::invalidate_corrupt(false)`](crate::SessionConfigBuilder::invalidate_corrupt),
    /// to apply it to every rejected cookie. The default is a fresh session.
    #[must_use]
    pub fn reject_with(mut self, status: StatusCode) -> Self {
        self.rejected = RejectedCookie::Respond(status);
        self
    }

    /// The policy for requests whose session cannot be loaded.
    pub fn rejected_cookie_policy(&self) -> RejectedCookie {
        self.rejected
    }

    /// The session configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`SessionLayer`] produces.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    layer: SessionLayer,
}

/// The request's session, shared between the handler and the layer: the value the
/// layer puts into the request's extensions, and (feature `axum`) an extractor.
///
/// Lock it to read or change the session; the guard is not `Send`, so it cannot be
/// held across an `.await` in a handler (drop it first). Call
/// [`Session::save`] to have changes written, as in Beaker.
#[derive(Clone)]
pub struct SessionHandle(Arc<Mutex<Session>>);

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // the session holds user data: show nothing of it
        f.write_str("SessionHandle { .. }")
    }
}

impl SessionHandle {
    /// Wraps a session loaded by hand (the layer does this for every request).
    pub fn new(session: Session) -> Self {
        SessionHandle(Arc::new(Mutex::new(session)))
    }

    /// Locks the session. A handler that panicked while holding the lock does not
    /// make the session unusable (the data is a plain document).
    pub fn lock(&self) -> MutexGuard<'_, Session> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle a request carries, if it went through a [`SessionLayer`].
    pub fn from_request<B>(request: &Request<B>) -> Option<SessionHandle> {
        request.extensions().get::<SessionHandle>().cloned()
    }
}

fn status_response<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}

/// Ends the session and adds its cookie to the response; a session that cannot be
/// written turns the response into a 500 without `Set-Cookie`.
fn finish<B: Default>(handle: &SessionHandle, response: &mut Response<B>) {
    match handle.lock().finish() {
        Ok(Some(cookie)) => {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(
                kind = e.kind(),
                "cannot write the session cookie; answering 500"
            );
            *response = status_response(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let config = &self.layer.config;
        let session = match config.load(request.headers()) {
            Ok(session) => {
                if let Some(warning) = session.warning() {
                    tracing::warn!(
                        kind = warning.error_kind(),
                        "session cookie rejected; starting a new session"
                    );
                }
                session
            }
            Err(e) => match self.layer.rejected {
                RejectedCookie::NewSession => {
                    tracing::warn!(
                        kind = e.kind(),
                        "session cookie cannot be loaded; starting a new session"
                    );
                    config.new_session()
                }
                RejectedCookie::Respond(status) => {
                    tracing::warn!(
                        kind = e.kind(),
                        status = status.as_u16(),
                        "session cookie cannot be loaded; rejecting the request"
                    );
                    return ResponseFuture {
                        state: State::Reject(status),
                    };
                }
            },
        };
        let handle = SessionHandle::new(session);
        request.extensions_mut().insert(handle.clone());
        // the service that was driven to readiness handles this request; a clone
        // takes its place for the next one (tower's usual pattern)
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Inner {
                future: Box::pin(inner.call(request)),
                handle,
            },
        }
    }
}

/// The future of [`SessionService`]: the inner service's response with the
/// session's `Set-Cookie` added.
pub struct ResponseFuture<F> {
    state: State<F>,
}

enum State<F> {
    Reject(StatusCode),
    // boxed so that the future is Unpin without pin projection (no unsafe)
    Inner {
        future: Pin<Box<F>>,
        handle: SessionHandle,
    },
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture { .. }")
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            State::Reject(status) => Poll::Ready(Ok(status_response(*status))),
            State::Inner { future, handle } => {
                let mut response = match future.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(response)) => response,
                };
                finish(handle, &mut response);
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(feature = "axum")]
mod extract {
    use axum::extract::FromRequestParts;
    use http::StatusCode;
    use http::request::Parts;

    use super::SessionHandle;

    /// The extractor (feature `axum`): the request's [`SessionHandle`]. Fails with
    /// `500` when the route is not wrapped in a
    /// [`SessionLayer`](super::SessionLayer), a programming error.
    impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
        type Rejection = (StatusCode, &'static str);

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            parts.extensions.get::<SessionHandle>().cloned().ok_or((
                StatusCode::INTERNAL_SERVER_ERROR,
                "SessionLayer is not installed on this route",
            ))
        }
    }
}
