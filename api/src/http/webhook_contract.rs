//! The top-level `webhooks` section of the OpenAPI document: what a subscriber receives.

use serde_json::Value;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, HttpMethod, OpenApi as Document, PathItem, Paths, Ref, Required,
    ResponseBuilder,
};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::events::Event;

/// Adds the top-level `webhooks` section of the OpenAPI document: the request a subscriber receives.
pub struct WebhookContract;

impl Modify for WebhookContract {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut schemas = vec![(Event::name().into_owned(), Event::schema())];
        <Event as ToSchema>::schemas(&mut schemas);
        components.schemas.extend(schemas);
        let header = |name: &str, description: &str, example: Value| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(String::schema()))
                .example(Some(example))
                .build()
        };
        let operation = OperationBuilder::new()
            .tag("webhooks")
            .operation_id(Some("receive_event"))
            .summary(Some("An event, POSTed to each active webhook of its partner"))
            .description(Some(
                "Sent by Relais to the URL registered with `POST /api/v1/webhooks`, once per event \
for the partner. The body is the event exactly as the feed (`GET /api/v1/events`) lists it: the \
same envelope and names, `type` from the catalogue of the `Event` schema. It is signed the \
Standard Webhooks way: `webhook-signature` is `v1,` followed by \
the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded \
part of the secret after `whsec_`. Verify it in constant time and refuse old timestamps. \
Every attempt for one event carries the same `webhook-id`: use it to ignore repeats. \
Attempts that fail are retried with exponential back-off (doubling from a few seconds, at \
most an hour apart) for more than a day.",
            ))
            .parameter(header(
                "webhook-id",
                "The event's id; the same on every attempt of its delivery",
                Value::from("0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"),
            ))
            .parameter(header(
                "webhook-timestamp",
                "When this attempt was signed, in seconds since the Unix epoch",
                Value::from("1773484927"),
            ))
            .parameter(header(
                "webhook-signature",
                "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`",
                Value::from("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(Event::name())))
                            .build(),
                    )
                    .build(),
            ))
            // No bearer token: the receiver authenticates the request by its signature headers.
            .securities(Some(Vec::<SecurityRequirement>::new()))
            .response(
                "2XX",
                ResponseBuilder::new()
                    .description("Acknowledged: the delivery is recorded as `delivered`"),
            )
            .response(
                "default",
                ResponseBuilder::new().description(
                    "Any other answer, or none within 10 seconds, is a failed attempt: it is retried",
                ),
            );
        openapi
            .webhooks
            .get_or_insert_with(Paths::new)
            .paths
            .insert("event".into(), PathItem::new(HttpMethod::Post, operation));
    }
}
