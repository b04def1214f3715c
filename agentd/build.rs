//! Puts the Git commit this program is built from into its version line (`--version`).

include!("../protocol/build_version.rs");

fn main() {
    emit_build_version();
}
