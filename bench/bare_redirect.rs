//! Baseline for `bench/redirect.sh`: the cheapest possible actix-web answer to the referral
//! redirect, `GET /r/{code}` → `302 Found` with a fixed `Location`, no middleware, no state.
//!
//! Usage: `bare_redirect [BIND] [WORKERS]`, defaults `127.0.0.1:18081` and one worker per
//! CPU (the same default as `affilia serve`; pass Affilia's `--http-workers` value for a fair
//! comparison).

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};

/// The fixed destination, shaped like Affilia's (`ref` + `aff_sess`).
const LOCATION: &str = "https://shop.bench.test/?ref=x&aff_sess=y";

async fn redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, LOCATION))
        .finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let workers = match args.next() {
        Some(n) => n.parse::<usize>().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("workers: {e}"))
        })?,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    eprintln!("bare_redirect listening on {bind} with {workers} workers");
    HttpServer::new(|| App::new().route("/r/{code}", web::get().to(redirect)))
        .workers(workers)
        .bind(&bind)?
        .run()
        .await
}
