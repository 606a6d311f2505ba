//! Static assets (CSS, JS, vendored HTMX), embedded in the binary.
//!
//! URLs carry a content hash (`/static/app.css?v=1a2b3c4d5e`), so responses can be cached
//! for a year: a changed file gets a new URL.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

static STATIC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// Versioned URL of each embedded file, keyed by its path under `static/`.
static URLS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut urls = HashMap::new();
    collect(&STATIC, &mut urls);
    urls
});

fn collect(dir: &Dir<'static>, urls: &mut HashMap<String, String>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        let hash = hex::encode(Sha256::digest(file.contents()));
        urls.insert(path.clone(), format!("/static/{path}?v={}", &hash[..10]));
    }
    for sub in dir.dirs() {
        collect(sub, urls);
    }
}

/// The versioned URL of an embedded file, e.g. `url("app.css")`.
pub fn url(path: &str) -> String {
    URLS.get(path)
        .cloned()
        .unwrap_or_else(|| format!("/static/{path}"))
}

/// The contents of an embedded file.
pub fn file(path: &str) -> Option<&'static [u8]> {
    STATIC.get_file(path).map(|f| f.contents())
}

/// The vendored HTMX file.
pub const HTMX: &str = "vendor/htmx-2.0.11.min.js";

/// `GET /static/{path}`.
pub async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(file) = STATIC.get_file(path.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("not found");
    };
    let content_type = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    // Only versioned URLs are immutable; a bare URL may change with the next release.
    let cache = if req.query_string().starts_with("v=") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(file.contents())
}
