//! What the resource modules share: access guards, paging, and versioned responses.

use actix_web::HttpResponse;
use actix_web::http::header;
use relais_persistence::PageRequest;
use serde::Serialize;

use crate::http::audit::Shown;
use crate::http::extract::etag;

/// Items on a page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: i64 = 50;

pub fn page_request(limit: Option<i64>, cursor: Option<String>) -> PageRequest {
    PageRequest {
        limit: limit.unwrap_or(DEFAULT_PAGE_SIZE),
        cursor,
    }
}

/// `validator` check for a `cursor` parameter: the id of the last item of a previous page.
pub fn cursor_is_id(cursor: &str) -> Result<(), validator::ValidationError> {
    uuid::Uuid::parse_str(cursor).map(drop).map_err(|_| {
        validator::ValidationError::new("invalid_cursor")
            .with_message("must be a next_cursor value returned by a previous page".into())
    })
}

/// The query of a list read a page at a time, with no filter of its own.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams, validator::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Most items to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// 201 with the new record's `Location` and `ETag`.
pub fn created<T: Serialize>(location: String, version: i64, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header(etag(version))
        .json(body)
}

/// 200 with a page of a list, naming the records it `shows` to the audit (one event per record,
/// so that each person's access history lists this read).
pub fn listed<T: Serialize>(body: &T, shows: Vec<String>) -> HttpResponse {
    let mut response = HttpResponse::Ok().json(body);
    response.extensions_mut().insert(Shown(shows));
    response
}

/// 200 with the record's `ETag`.
pub fn versioned<T: Serialize>(version: i64, body: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header(etag(version)).json(body)
}

/// Declares the JSON page type of a resource.
macro_rules! page_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }

        impl From<relais_persistence::Page<$item>> for $name {
            fn from(page: relais_persistence::Page<$item>) -> Self {
                Self {
                    items: page.items,
                    next_cursor: page.next_cursor,
                }
            }
        }
    };
}
pub(crate) use page_type;
