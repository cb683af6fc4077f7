//! The `participe` binary. Everything lives in `participe-server`; this file only hands over.

fn main() -> std::process::ExitCode {
    participe_server::main()
}
