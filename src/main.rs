//! `kiln`: every command is in [`kiln::cli`]. The binary adds the allocator that
//! lets a processor child name running out of its memory limit
//! ([`kiln::isolation::memory`]).

use kiln::isolation::memory::KilnAllocator;

#[global_allocator]
static ALLOCATOR: KilnAllocator = KilnAllocator;

fn main() -> std::process::ExitCode {
    kiln::cli::main()
}
