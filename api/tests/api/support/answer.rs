//! What a test reads back from the app: an `Answer`.

use serde_json::Value;

/// An answer: status, headers we care about, and the body as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub www_authenticate: Option<String>,
    pub allow: Option<String>,
    pub body: Value,
    /// Every header, by lower-case name.
    pub headers: std::collections::BTreeMap<String, String>,
}

impl Answer {
    /// A header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The field names of a problem's `errors`.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .expect("an id in the answer")
            .to_owned()
    }

    /// Asserts `status` (showing the body otherwise) and hands the answer back.
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{:#}", self.body);
        self
    }

    /// Asserts a problem+json answer with `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{:#}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"].is_string()
                && self.body["title"].is_string()
                && self.body["detail"].is_string()
        );
    }
}

pub(super) fn answer(response: ureq::Response) -> Answer {
    let status = response.status();
    let header = |name: &str| response.header(name).map(str::to_owned);
    let content_type = header("content-type").unwrap_or_default();
    let etag = header("etag");
    let location = header("location");
    let www_authenticate = header("www-authenticate");
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| (name.to_ascii_lowercase(), response.all(&name).join(", ")))
        .collect();
    let allow = header("allow");
    let text = response.into_string().unwrap_or_default();
    Answer {
        status,
        content_type,
        etag,
        location,
        www_authenticate,
        headers,
        allow,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}
