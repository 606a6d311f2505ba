//! Rebuild when embedded files change: include_dir (static/), askama (templates/) and
//! sqlx::migrate! (migrations/) otherwise miss new files.

fn main() {
    println!("cargo:rerun-if-changed=static");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=migrations");
}
