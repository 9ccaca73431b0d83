//! Writes `src/sparkplug/proto/tahu.rs` from the vendored `sparkplug_b.proto`.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let proto_dir = root.join("proto/sparkplug_b");
    let fds = protox::compile(["sparkplug_b.proto"], [&proto_dir])?;
    let out = root.join("src/sparkplug/proto");
    std::fs::create_dir_all(&out)?;
    prost_build::Config::new()
        .out_dir(&out)
        .compile_fds(fds)?;
    // prost-build names the file after the package.
    std::fs::rename(out.join("org.eclipse.tahu.protobuf.rs"), out.join("tahu.rs"))?;
    Ok(())
}
