//! The `rollsim` binary: all of it lives in `rollsim::cli`.

fn main() {
    std::process::exit(rollsim::cli::main());
}
