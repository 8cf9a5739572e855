//! `weft-cni`: run by the container runtime with CNI_* variables and the config on stdin.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use weft_cni::{Command, RawEnv, UnixAgent, run};

fn main() -> ExitCode {
    let env = RawEnv::from_os_vars(std::env::vars_os());
    let stdin = std::io::stdin();
    // From a terminal, stdin is read only for the commands that need a config: someone typing
    // `weft-cni` or `CNI_COMMAND=VERSION weft-cni` should get an answer, not a prompt.
    let needs_config = env.command().is_ok_and(|c| c != Command::Version);
    let out = if !needs_config && stdin.is_terminal() {
        run(&env, std::io::empty(), |p| UnixAgent::new(p))
    } else {
        run(&env, stdin.lock(), |p| UnixAgent::new(p))
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.stdout.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::from(out.exit_code)
}
