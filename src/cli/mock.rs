//! `portcullis mock-provider`: the scriptable fake provider as a standalone server.

use std::net::SocketAddr;
use std::time::Duration;

use portcullis_mock::MockOptions;

use super::MockArgs;

pub async fn run(args: MockArgs) -> Result<(), String> {
    let opts = MockOptions {
        addr: SocketAddr::new(args.host, args.port),
        stream_chunks: args.stream_chunks,
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        latency: Duration::from_millis(args.latency_ms),
        record: !args.no_record,
    };
    tracing::info!("mock provider listening on http://{}", opts.addr);
    portcullis_mock::serve(opts, super::shutdown_signal())
        .await
        .map_err(|e| format!("mock provider: {e}"))
}
