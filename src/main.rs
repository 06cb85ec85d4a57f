//! The `longrun` binary: parses nothing itself, hands argv to the library and turns the
//! outcome into an exit code.

/// mimalloc instead of the system allocator: parsing a large checklist allocates and frees
/// hundreds of thousands of small strings, and glibc's malloc was a fifth of `longrun plan`'s
/// instructions on a 2,000-task file (BENCHMARKS.md, "Planning and import"). Its default
/// build asks for transparent huge pages: zeroing them costs every command about 0.5 ms at
/// start, but a 10,000-task `task set` takes 84 ms with them and 98 to 109 ms without
/// (BENCHMARKS.md, "Claims", session 5).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    longrun::run(std::env::args_os())
}
