//! The `longrun` binary: parses nothing itself, hands argv to the library and turns the
//! outcome into an exit code.

/// mimalloc instead of the system allocator: parsing a large checklist allocates and frees
/// hundreds of thousands of small strings, and glibc's malloc was a fifth of `longrun plan`'s
/// instructions on a 2,000-task file (BENCHMARKS.md, "Planning and import"). Its stable
/// series (`v2`) without transparent huge pages (`no_thp`): the default asked for them, and
/// the kernel zeroing 2 MiB pages cost every command 0.5 to 0.7 ms at start (BENCHMARKS.md,
/// "Claims").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    longrun::run(std::env::args_os())
}
