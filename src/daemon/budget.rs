//! How the shutdown timeout is shared between draining the graph and the MQTT session.

/// What is left, of 3/4 of `timeout` since `started`, for the MQTT session to send what its
/// outboxes hold before it says `offline`.
pub(crate) fn mqtt_budget(
    timeout: std::time::Duration,
    started: tokio::time::Instant,
) -> std::time::Duration {
    timeout.mul_f32(0.75).saturating_sub(started.elapsed())
}
