//! Process gauges: sampled in the background, visible in the exposition.

use std::time::Duration;

use finstage_monitoring::{ProcessConfig, ProcessSampler, catalog};
use tokio::time::Instant;

use crate::support::{self, type_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_one_sample_the_exposition_has_the_process_gauges() {
    let metrics = support::metrics();
    let sampler = ProcessSampler::spawn(&ProcessConfig {
        interval: Duration::from_secs(3600),
    })
    .unwrap();
    let mut samples = sampler.subscribe();
    let sample = samples.wait_for(Option::is_some).await.unwrap().expect("a sample");
    assert_eq!(sampler.latest(), Some(sample));

    let text = metrics.render();
    let snapshot = finstage_monitoring::alerts::MetricsSnapshot::parse(&text);
    let read = |name: &str| {
        snapshot
            .get(name, &[])
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    assert!(read(catalog::PROCESS_RESIDENT_MEMORY_BYTES.name) > 1e6);
    assert!(read(catalog::PROCESS_VIRTUAL_MEMORY_BYTES.name) >= read(catalog::PROCESS_RESIDENT_MEMORY_BYTES.name));
    assert!(
        read(catalog::PROCESS_THREADS.name) >= 2.0,
        "the test thread and the runtime's workers"
    );
    assert!(
        read(catalog::PROCESS_OPEN_FDS.name) >= 3.0,
        "stdin, stdout, stderr at least"
    );
    assert!(read(catalog::PROCESS_MAX_FDS.name) >= read(catalog::PROCESS_OPEN_FDS.name));
    assert!(read(catalog::PROCESS_CPU_SECONDS_TOTAL.name) > 0.0);
    assert!(read(catalog::PROCESS_START_TIME_SECONDS.name) > 1.6e9);
    assert!(read(catalog::PROCESS_UPTIME_SECONDS.name) >= 0.0);
    for def in [
        catalog::PROCESS_RESIDENT_MEMORY_BYTES,
        catalog::PROCESS_CPU_SECONDS_TOTAL,
        catalog::PROCESS_UPTIME_SECONDS,
    ] {
        assert_eq!(type_of(&text, def.name), Some("gauge"), "{}", def.name);
    }
}

#[tokio::test(start_paused = true)]
async fn samples_are_taken_at_the_configured_interval() {
    support::metrics();
    let interval = Duration::from_secs(30);
    let sampler = ProcessSampler::spawn(&ProcessConfig { interval }).unwrap();
    let mut samples = sampler.subscribe();
    let started = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..3 {
        samples.changed().await.unwrap();
        seen.push(started.elapsed());
    }
    assert_eq!(seen, [Duration::ZERO, interval, interval * 2]);
    // Stopping ends the sampling: no further sample after the next interval.
    sampler.stop();
    assert!(samples.changed().await.is_err(), "the sender is gone with the task");
}
