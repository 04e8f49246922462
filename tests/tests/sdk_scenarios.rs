//! The SDK scenarios (in `lockstep_tests::sdk::scenarios`) on both servers: the real Temporal
//! dev server is the baseline, and Lockstep must pass the very same assertions over mTLS with
//! official Rust SDK workers.

use std::path::Path;

use lockstep_tests::{DevServer, TemporalDevServer, sdk::Target};

/// Keeps whichever server a test started alive for the test's duration (killed on drop).
#[allow(dead_code)]
enum Server {
    Temporal(TemporalDevServer),
    Lockstep(DevServer),
}

fn temporal() -> (Server, Target) {
    let server = TemporalDevServer::start();
    let target = Target::Plaintext {
        addr: server.addr(),
    };
    (Server::Temporal(server), target)
}

fn lockstep() -> (Server, Target) {
    let server = DevServer::start();
    let target = Target::Lockstep {
        addr: server.addr(),
        certs_dir: server.certs_dir(),
        principal: "worker",
    };
    (Server::Lockstep(server), target)
}

fn worker_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lockstep-test-worker"))
}

/// One test per cross-run scenario (`lockstep_tests::sdk::external`) and server.
macro_rules! external_scenarios {
    ($server:ident: $($name:ident),* $(,)?) => {
        mod $server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_server, target) = super::super::$server();
                    lockstep_tests::sdk::external::$name(&target).await;
                }
            )*
        }
    };
}

mod external {
    /// Lockstep only: a retry's backoff timer survives a SIGKILL of the server.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retry_backoff_survives_a_crash() {
        let mut server = lockstep_tests::DevServer::start();
        let target = lockstep_tests::sdk::Target::Lockstep {
            addr: server.addr(),
            certs_dir: server.certs_dir(),
            principal: "worker",
        };
        lockstep_tests::sdk::external::retry_backoff_survives_a_crash(&target, || server.restart())
            .await;
    }

    external_scenarios!(temporal: cancel_child_from_parent, signal_external_workflows, retry_until_success, cron_every_two_seconds);
    external_scenarios!(lockstep: cancel_child_from_parent, signal_external_workflows, retry_until_success, cron_every_two_seconds);
}

/// One test per scenario and server.
macro_rules! scenarios {
    ($server:ident: $($name:ident),* $(,)?) => {
        mod $server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_server, target) = super::$server();
                    lockstep_tests::sdk::scenarios::$name(&target).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn worker_crash_takeover() {
                let (_server, target) = super::$server();
                lockstep_tests::sdk::scenarios::worker_crash_takeover(&target, super::worker_bin()).await;
            }
        }
    };
}

scenarios!(temporal:
    one_activity,
    activity_retries,
    non_retryable_failure,
    heartbeat_timeout,
    start_to_close_timeout,
    durable_timer,
    signal_query_signal,
    already_started,
    describe_running_then_completed,
    continue_as_new,
    child_workflow,
    child_id_conflict,
    cancel_timer_workflow,
    cancel_heartbeating_activity,
    terminate_with_reason,
    signal_with_start_once,
);

scenarios!(lockstep:
    one_activity,
    activity_retries,
    non_retryable_failure,
    heartbeat_timeout,
    start_to_close_timeout,
    durable_timer,
    signal_query_signal,
    already_started,
    describe_running_then_completed,
    continue_as_new,
    child_workflow,
    child_id_conflict,
    cancel_timer_workflow,
    cancel_heartbeating_activity,
    terminate_with_reason,
    signal_with_start_once,
);

/// Differential: for deterministic scenarios, Lockstep writes the same event-type sequence as
/// the real Temporal dev server.
macro_rules! same_events {
    ($module:ident, $source:ident: $($name:ident),* $(,)?) => {
        mod $module {
            use lockstep_tests::sdk::{event_types, $source};

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_temporal, temporal) = super::temporal();
                    let (_lockstep, lockstep) = super::lockstep();
                    let expected = event_types(&$source::$name(&temporal).await.history);
                    let actual = event_types(&$source::$name(&lockstep).await.history);
                    assert_eq!(actual, expected, "Lockstep's history differs from Temporal's");
                }
            )*
        }
    };
}

same_events!(
    differential,
    scenarios:
    one_activity,
    activity_retries,
    non_retryable_failure,
    heartbeat_timeout,
    start_to_close_timeout,
    durable_timer,
    continue_as_new,
    child_workflow,
    child_id_conflict,
    cancel_timer_workflow,
    cancel_heartbeating_activity,
    terminate_with_reason,
    signal_with_start_once,
);

/// ResetWorkflowExecution (`lockstep_tests::sdk::reset`) on both servers, and the event types of
/// the reset run and of the terminated base run compared with Temporal's.
mod reset {
    use lockstep_tests::sdk::{event_types, reset::reset_to_first_task};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn temporal() {
        let (_server, target) = super::temporal();
        reset_to_first_task(&target).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockstep() {
        let (_server, target) = super::lockstep();
        reset_to_first_task(&target).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn differential() {
        let (_temporal, temporal) = super::temporal();
        let (_lockstep, lockstep) = super::lockstep();
        let expected = reset_to_first_task(&temporal).await;
        let actual = reset_to_first_task(&lockstep).await;
        for (run, expected, actual) in [
            ("reset", &expected.reset, &actual.reset),
            ("base", &expected.base, &actual.base),
        ] {
            assert_eq!(
                event_types(&actual.history),
                event_types(&expected.history),
                "Lockstep's {run} run history differs from Temporal's"
            );
        }
    }
}

/// The typed search attribute scenarios (`lockstep_tests::sdk::search_attributes`) on both
/// servers, and the differential check of the deterministic one.
mod search_attributes {
    use lockstep_tests::sdk::{event_types, search_attributes as scenarios};

    macro_rules! on_both {
        ($($name:ident),* $(,)?) => {
            $(
                mod $name {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn temporal() {
                        let (_server, target) = super::super::temporal();
                        super::scenarios::$name(&target).await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn lockstep() {
                        let (_server, target) = super::super::lockstep();
                        super::scenarios::$name(&target).await;
                    }
                }
            )*
        };
    }

    on_both!(
        typed_search_attributes,
        refused_at_start,
        bad_upsert_fails_the_workflow_task,
    );

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn same_events_as_temporal() {
        let (_temporal, temporal) = super::temporal();
        let (_lockstep, lockstep) = super::lockstep();
        let expected = event_types(&scenarios::typed_search_attributes(&temporal).await.history);
        let actual = event_types(&scenarios::typed_search_attributes(&lockstep).await.history);
        assert_eq!(
            actual, expected,
            "Lockstep's history differs from Temporal's"
        );
    }
}

/// The update scenarios (`lockstep_tests::sdk::updates`) on both servers, and the
/// deterministic ones compared event type by event type.
macro_rules! update_scenarios {
    (both: $($name:ident),* ; differential: $($same:ident),* $(,)?) => {
        mod updates {
            use lockstep_tests::sdk::{event_types, updates};

            $(
                mod $name {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn temporal() {
                        let (_server, target) = super::super::temporal();
                        super::updates::$name(&target).await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn lockstep() {
                        let (_server, target) = super::super::lockstep();
                        super::updates::$name(&target).await;
                    }
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn survive_server_crashes() {
                let mut server = lockstep_tests::DevServer::start();
                updates::updates_survive_server_crashes(&mut server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn raw_worker_protocol() {
                let server = lockstep_tests::DevServer::start();
                updates::raw_worker_update_protocol(&server).await;
            }

            mod differential {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $same() {
                        let (_temporal, temporal) = super::super::temporal();
                        let (_lockstep, lockstep) = super::super::lockstep();
                        let expected =
                            super::event_types(&super::updates::$same(&temporal).await.history);
                        let actual =
                            super::event_types(&super::updates::$same(&lockstep).await.history);
                        assert_eq!(actual, expected, "Lockstep's history differs from Temporal's");
                    }
                )*
            }
        }
    };
}

update_scenarios!(
    both: update_accepted, update_rejected, update_same_id_twice, update_with_start,
        update_bad_requests, update_then_reset;
    differential: update_accepted, update_rejected, update_same_id_twice, update_with_start,
        update_then_reset,
);

same_events!(
    differential_external,
    external:
    signal_external_workflows,
    retry_until_success,
    cron_every_two_seconds,
);
