//! Stopping without dropping a request: once the instance is told to stop, every answer says
//! `Connection: close`, and readiness answers 503, while the requests already sent on open
//! connections are read and answered; then the server stops (see `cli::serve`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{Error, web};

/// Whether the instance is stopping; shared by the signal handler, this layer and readiness.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The middleware: while draining, each answer closes its connection, so that clients open
/// their next one elsewhere (on another replica, or once this one is back).
pub async fn close_while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let draining = req
        .app_data::<web::Data<Draining>>()
        .is_some_and(|d| d.is_on());
    let mut response = next.call(req).await?;
    if draining {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}
