//! The `affilia` binary: parse the command line and hand over to the library.

/// mimalloc instead of the system allocator: the referral redirect allocates a few dozen
/// small objects per click, and glibc malloc/free were ~17 % of the server's CPU under load
/// (benchmark in the README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    affilia::cli::run()
}
