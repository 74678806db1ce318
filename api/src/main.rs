//! `relais`: the binary. Everything it does is in `relais_api::cli`.

fn main() -> std::process::ExitCode {
    relais_api::cli::run()
}
