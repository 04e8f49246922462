//! `lockstep workflow …`: the real binary against a real dev server over mTLS. Workflows are
//! driven by a raw gRPC worker in the test; payload decoding goes through an in-test HTTPS
//! codec endpoint (a reversible XOR "encryption" keyed `test-key`).
//!
//! - `cli`: running the binary and reading its output; `worker`: the raw worker; `codec`: the
//!   in-test codec endpoint.

mod cli;
mod codec;
mod worker;

use std::{collections::HashMap, process::Stdio};

use lockstep_tests::{DevServer, clients::dev_client};
use serde_json::{Value, json};
use temporalio_protos::temporal::api::{
    command::v1::{
        Command, FailWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        command::Attributes,
    },
    common::v1::{ActivityType, Payload, Payloads, RetryPolicy, WorkflowExecution, WorkflowType},
    enums::v1::{CommandType, QueryResultType},
    history::v1::history_event,
    workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, PollActivityTaskQueueRequest,
        RespondActivityTaskFailedRequest, RespondQueryTaskCompletedRequest,
        SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest,
    },
};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use cli::{Cli, assert_success, field, row, text, timeline_types};
use codec::{KEY_ID, TOKEN, codec_endpoint, seal};
use worker::{app_failure, complete, json_payloads, poll, queue, respond};

const NS: &str = "default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_describe_result_and_show_a_completed_workflow() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    let mut worker = dev_client(&server, "worker").await;

    let started = cli
        .ok(&[
            "start",
            "--type",
            "greet",
            "-t",
            "greetings",
            "-w",
            "greet-1",
            "-i",
            "\"world\"",
            "--run-timeout",
            "1h",
        ])
        .await;
    assert_eq!(field(&started, "WorkflowId"), "greet-1");
    let run_id = field(&started, "RunId").to_string();
    assert_eq!(run_id.len(), 36, "{started}");

    let described = cli.ok(&["describe", "-w", "greet-1"]).await;
    assert_eq!(field(&described, "Status"), "RUNNING", "{described}");
    assert_eq!(field(&described, "Type"), "greet");
    assert_eq!(field(&described, "TaskQueue"), "greetings");
    assert_eq!(field(&described, "RunTimeout"), "3600s");

    // `result` waits for the close event while the worker completes the workflow.
    let waiting = tokio::spawn(cli.command(&["result", "-w", "greet-1"]).output());
    let task = poll(&mut worker, "greetings").await;
    respond(
        &mut worker,
        task.task_token,
        vec![complete(json_payloads("\"hello world\""))],
    )
    .await;
    let output = waiting.await.unwrap().unwrap();
    assert_success(&output, &["result"]);
    let result = String::from_utf8(output.stdout).unwrap();
    assert_eq!(field(&result, "Status"), "COMPLETED");
    assert_eq!(field(&result, "Result"), "\"hello world\"");
    assert_eq!(field(&result, "RunId"), run_id);

    let show = cli.ok(&["show", "-w", "greet-1"]).await;
    assert_eq!(
        timeline_types(&show),
        [
            "WorkflowExecutionStarted",
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "WorkflowExecutionCompleted",
        ],
        "{show}"
    );
    assert!(
        row(&show, "WorkflowExecutionStarted").contains("input=\"world\""),
        "{show}"
    );
    assert!(row(&show, "WorkflowExecutionCompleted").contains("result=\"hello world\""));

    let jsonl = cli.ok(&["show", "-w", "greet-1", "-o", "jsonl"]).await;
    let events: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(events.len(), 5, "{jsonl}");
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(
        events[0]["eventType"],
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    );
    assert_eq!(
        events[0]["workflowExecutionStartedEventAttributes"]["input"],
        json!(["world"])
    );
    assert_eq!(
        events[4]["workflowExecutionCompletedEventAttributes"]["result"],
        json!(["hello world"])
    );

    let document: Value =
        serde_json::from_str(&cli.ok(&["show", "-w", "greet-1", "-o", "json"]).await).unwrap();
    assert_eq!(document["events"].as_array().unwrap().len(), 5);
    let described: Value =
        serde_json::from_str(&cli.ok(&["describe", "-w", "greet-1", "-o", "json"]).await).unwrap();
    assert_eq!(
        described["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    );
    let result: Value =
        serde_json::from_str(&cli.ok(&["result", "-w", "greet-1", "-o", "json"]).await).unwrap();
    assert_eq!(result["result"], json!(["hello world"]));
    assert_eq!(result["runId"], run_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_waits_and_show_follow_streams_until_the_close() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    let mut worker = dev_client(&server, "worker").await;

    let executing = tokio::spawn(
        cli.command(&[
            "execute", "--type", "sum", "-t", "exec", "-w", "sum-1", "-i", "1", "-i", "2",
        ])
        .output(),
    );
    let task = poll(&mut worker, "exec").await;

    // Follow: the timeline so far arrives, then the process waits for more.
    let mut follow = cli
        .command(&["show", "-w", "sum-1", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let started = line.contains("WorkflowTaskStarted");
        seen.push(line);
        if started {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("input=[1, 2]")), "{seen:?}");

    respond(
        &mut worker,
        task.task_token,
        vec![complete(json_payloads("3"))],
    )
    .await;
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push(line);
    }
    assert!(follow.wait().await.unwrap().success());
    assert!(
        seen.last().unwrap().contains("WorkflowExecutionCompleted"),
        "{seen:?}"
    );

    let output = executing.await.unwrap().unwrap();
    assert_success(&output, &["execute"]);
    let out = String::from_utf8(output.stdout).unwrap();
    assert_eq!(field(&out, "WorkflowId"), "sum-1");
    assert_eq!(field(&out, "Result"), "3");

    // A failed workflow: printed, and a non-zero exit.
    let failing = tokio::spawn(
        cli.command(&["execute", "--type", "sum", "-t", "exec", "-w", "sum-2"])
            .output(),
    );
    let task = poll(&mut worker, "exec").await;
    let fail = Command {
        command_type: CommandType::FailWorkflowExecution as i32,
        attributes: Some(Attributes::FailWorkflowExecutionCommandAttributes(
            FailWorkflowExecutionCommandAttributes {
                failure: Some(app_failure("overflow", "MathError")),
            },
        )),
        ..Default::default()
    };
    respond(&mut worker, task.task_token, vec![fail]).await;
    let output = failing.await.unwrap().unwrap();
    assert!(!output.status.success(), "{}", text(&output));
    let out = String::from_utf8(output.stdout).unwrap();
    assert_eq!(field(&out, "Status"), "FAILED");
    assert_eq!(field(&out, "Failure"), "overflow (type MathError)");
    assert!(String::from_utf8_lossy(&output.stderr).contains("FAILED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_query_cancel_and_terminate_change_the_history() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    let mut worker = dev_client(&server, "worker").await;
    cli.ok(&["start", "--type", "order", "-t", "orders", "-w", "order-1"])
        .await;
    // The first task completes with no command: the workflow stays open.
    let task = poll(&mut worker, "orders").await;
    respond(&mut worker, task.task_token, Vec::new()).await;

    cli.ok(&[
        "signal",
        "-w",
        "order-1",
        "--name",
        "approve",
        "-i",
        "{\"by\":\"ops\"}",
    ])
    .await;

    // A query is answered by the worker through a query task.
    let querying = tokio::spawn(
        cli.command(&["query", "-w", "order-1", "--type", "state"])
            .output(),
    );
    let query_task = loop {
        let task = poll(&mut worker, "orders").await;
        if task.query.is_some() {
            break task;
        }
        // The signal's workflow task: complete it with no command.
        respond(&mut worker, task.task_token, Vec::new()).await;
    };
    assert_eq!(query_task.query.unwrap().query_type, "state");
    worker
        .respond_query_task_completed(RespondQueryTaskCompletedRequest {
            namespace: NS.into(),
            task_token: query_task.task_token,
            completed_type: QueryResultType::Answered as i32,
            query_result: Some(json_payloads("{\"approved\":true}")),
            ..Default::default()
        })
        .await
        .unwrap();
    let output = querying.await.unwrap().unwrap();
    assert_success(&output, &["query"]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        "{\"approved\":true}"
    );

    cli.ok(&["cancel", "-w", "order-1"]).await;
    cli.ok(&["terminate", "-w", "order-1", "--reason", "operator cleanup"])
        .await;

    let show = cli.ok(&["show", "-w", "order-1"]).await;
    let types = timeline_types(&show);
    let position = |t: &str| {
        types
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("{t}: {show}"))
    };
    assert!(position("WorkflowExecutionSignaled") < position("WorkflowExecutionCancelRequested"));
    assert_eq!(types.last().unwrap(), "WorkflowExecutionTerminated");
    let signaled = row(&show, "WorkflowExecutionSignaled");
    assert!(signaled.contains("signalName=approve"), "{signaled}");
    assert!(signaled.contains("input={\"by\":\"ops\"}"), "{signaled}");
    assert!(row(&show, "WorkflowExecutionTerminated").contains("reason=operator cleanup"));

    let described = cli.ok(&["describe", "-w", "order-1"]).await;
    assert_eq!(field(&described, "Status"), "TERMINATED");
    let (out, err) = cli.fails(&["result", "-w", "order-1"]).await;
    assert_eq!(field(&out, "Status"), "TERMINATED");
    assert_eq!(field(&out, "Reason"), "operator cleanup");
    assert!(err.contains("TERMINATED"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_pending_activities_with_attempt_and_last_failure() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    let mut worker = dev_client(&server, "worker").await;
    cli.ok(&["start", "--type", "pay", "-t", "pay", "-w", "pay-1"])
        .await;
    let task = poll(&mut worker, "pay").await;
    let schedule = Command {
        command_type: CommandType::ScheduleActivityTask as i32,
        attributes: Some(Attributes::ScheduleActivityTaskCommandAttributes(
            ScheduleActivityTaskCommandAttributes {
                activity_id: "charge".into(),
                activity_type: Some(ActivityType {
                    name: "Charge".into(),
                }),
                task_queue: queue("pay"),
                start_to_close_timeout: Some(prost_wkt_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                // A long backoff keeps the second attempt pending while we look.
                retry_policy: Some(RetryPolicy {
                    initial_interval: Some(prost_wkt_types::Duration {
                        seconds: 3600,
                        nanos: 0,
                    }),
                    backoff_coefficient: 2.0,
                    maximum_attempts: 5,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    respond(&mut worker, task.task_token, vec![schedule]).await;
    let activity = worker
        .poll_activity_task_queue(PollActivityTaskQueueRequest {
            namespace: NS.into(),
            task_queue: queue("pay"),
            identity: "raw-worker".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!activity.task_token.is_empty());
    worker
        .respond_activity_task_failed(RespondActivityTaskFailedRequest {
            namespace: NS.into(),
            task_token: activity.task_token,
            failure: Some(app_failure("card declined", "CardError")),
            identity: "raw-worker".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let described = cli.ok(&["describe", "-w", "pay-1"]).await;
    assert!(described.contains("Pending Activities: 1"), "{described}");
    assert_eq!(field(&described, "ActivityId"), "charge");
    assert_eq!(field(&described, "Attempt"), "2 of 5");
    assert_eq!(
        field(&described, "LastFailure"),
        "card declined (type CardError)"
    );
    let value: Value =
        serde_json::from_str(&cli.ok(&["describe", "-w", "pay-1", "-o", "json"]).await).unwrap();
    let pending = &value["pendingActivities"][0];
    assert_eq!(pending["attempt"], 2);
    assert_eq!(pending["lastFailure"]["message"], "card declined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_prints_executions_or_explains_why_not() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    for id in ["listed-1", "listed-2"] {
        cli.ok(&["start", "--type", "t", "-t", "q", "-w", id]).await;
    }
    // Lockstep answers ListWorkflowExecutions; a server that does not gets the clear message
    // (checked against Unimplemented in the CLI's unit tests).
    let output = cli.run(&["list", "-o", "jsonl"]).await;
    if output.status.success() {
        let ids: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line).expect("JSON per line");
                value["execution"]["workflowId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(
            ids.contains(&"listed-1".into()) && ids.contains(&"listed-2".into()),
            "{ids:?}"
        );
        let table = cli.ok(&["list"]).await;
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("RUNNING") && l.contains("listed-1")),
            "{table}"
        );
    } else {
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            err.contains("this server does not support listing yet"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_come_from_flags_env_or_dev_dir_and_never_from_nowhere() {
    let home = tempfile::tempdir().unwrap();
    // A dev server in the default start-dev data dir of this XDG_DATA_HOME.
    let server = DevServer::start_in(&home.path().join("lockstep/dev"), &[]);
    let cli = Cli::new(&server);
    cli.ok(&["start", "--type", "t", "-t", "q", "-w", "certs-1"])
        .await;
    let addr = server.addr().to_string();

    // Nothing given, no dev certificates: a clear error naming the flags.
    let output = cli
        .bare(&["describe", "-w", "certs-1", "--address", &addr])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    for flag in [
        "--tls-cert-path",
        "--tls-key-path",
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "mutual TLS",
    ] {
        assert!(err.contains(flag), "{flag} missing from: {err}");
    }
    // Half a pair.
    let output = cli
        .bare(&[
            "describe",
            "-w",
            "certs-1",
            "--address",
            &addr,
            "--tls-cert-path",
            "x.pem",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--tls-key-path"));

    // The dev certificates of $XDG_DATA_HOME/lockstep/dev on loopback.
    let output = cli
        .bare(&["describe", "-w", "certs-1", "--address", &addr])
        .env("XDG_DATA_HOME", home.path())
        .output()
        .await
        .unwrap();
    assert_success(&output, &["describe with dev certificates"]);
    // And an explicit --dev-dir.
    let output = cli
        .bare(&["describe", "-w", "certs-1", "--address", &addr, "--dev-dir"])
        .arg(server.data_dir())
        .output()
        .await
        .unwrap();
    assert_success(&output, &["describe --dev-dir"]);

    // The temporal CLI's environment variables.
    let certs = server.certs_dir();
    let output = cli
        .bare(&["describe", "-w", "certs-1"])
        .env("TEMPORAL_ADDRESS", &addr)
        .env("TEMPORAL_NAMESPACE", NS)
        .env("TEMPORAL_TLS_CLIENT_CERT_PATH", certs.join("viewer.pem"))
        .env("TEMPORAL_TLS_CLIENT_KEY_PATH", certs.join("viewer-key.pem"))
        .env("TEMPORAL_TLS_SERVER_CA_CERT_PATH", certs.join("ca.pem"))
        .env("TEMPORAL_TLS_SERVER_NAME", "localhost")
        .output()
        .await
        .unwrap();
    assert_success(&output, &["describe with TEMPORAL_* variables"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("RUNNING"));

    // The viewer may read but not terminate: the server's answer is passed on.
    let output = cli
        .bare(&["terminate", "-w", "certs-1"])
        .env("TEMPORAL_ADDRESS", &addr)
        .env("TEMPORAL_TLS_CLIENT_CERT_PATH", certs.join("viewer.pem"))
        .env("TEMPORAL_TLS_CLIENT_KEY_PATH", certs.join("viewer-key.pem"))
        .env("TEMPORAL_TLS_SERVER_CA_CERT_PATH", certs.join("ca.pem"))
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("permission denied"));

    // A server certificate from another CA is refused, with a hint.
    let other = DevServer::start();
    let output = cli
        .bare(&[
            "describe",
            "-w",
            "certs-1",
            "--address",
            &addr,
            "--tls-ca-path",
        ])
        .arg(other.certs_dir().join("ca.pem"))
        .arg("--tls-cert-path")
        .arg(certs.join("admin.pem"))
        .arg("--tls-key-path")
        .arg(certs.join("admin-key.pem"))
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--tls-ca-path"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_without_a_codec_are_shown_safely() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    let mut client = dev_client(&server, "client").await;
    let mut sealed = seal(&json_payloads("\"secret\"").payloads[0]);
    // Bytes that would drive a terminal if printed raw.
    sealed.data.extend_from_slice(b"\x1b[2J\x1b]0;pwned\x07");
    let binary = Payload {
        metadata: HashMap::from([("encoding".to_string(), b"binary/plain".to_vec())]),
        data: b"\x00\x01\x1b[31m".to_vec(),
        ..Default::default()
    };
    client
        .start_workflow_execution(StartWorkflowExecutionRequest {
            namespace: NS.into(),
            workflow_id: "sealed-1".into(),
            workflow_type: Some(WorkflowType { name: "t".into() }),
            task_queue: queue("q"),
            input: Some(Payloads {
                payloads: vec![sealed],
            }),
            request_id: "sealed-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: NS.into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "sealed-1".into(),
                run_id: String::new(),
            }),
            signal_name: "blob".into(),
            input: Some(Payloads {
                payloads: vec![binary],
            }),
            request_id: "sealed-1-signal".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let show = cli.ok(&["show", "-w", "sealed-1"]).await;
    assert!(
        row(&show, "WorkflowExecutionStarted").contains("input=encrypted (key id test-key)"),
        "{show}"
    );
    assert!(
        row(&show, "WorkflowExecutionSignaled").contains("input=<binary, 7 bytes>"),
        "{show}"
    );
    assert!(
        !show.contains('\x1b') && !show.contains('\x07'),
        "raw bytes leaked: {show:?}"
    );
    let jsonl = cli.ok(&["show", "-w", "sealed-1", "-o", "jsonl"]).await;
    let first: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["workflowExecutionStartedEventAttributes"]["input"][0]["_shown"],
        "encrypted (key id test-key)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codec_endpoint_encodes_inputs_and_decodes_for_display() {
    let server = DevServer::start();
    let cli = Cli::new(&server);
    let codec = codec_endpoint(&server.certs_dir()).await;
    let ca = codec.ca.to_str().unwrap().to_string();
    let with_codec = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--codec-endpoint".into(), codec.url.clone()]);
        all.extend(["--codec-auth".into(), TOKEN.into()]);
        all.extend(["--codec-ca-path".into(), ca.clone()]);
        all
    };
    let run = |args: Vec<String>| {
        let cli = &cli;
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            cli.ok(&refs).await
        }
    };

    run(with_codec(&[
        "start",
        "--type",
        "t",
        "-t",
        "codec",
        "-w",
        "codec-1",
        "-i",
        "{\"card\":\"4242\"}",
    ]))
    .await;

    // What the server stored is the codec's output, not the input.
    let mut client = dev_client(&server, "client").await;
    let history = client
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: NS.into(),
            execution: Some(WorkflowExecution {
                workflow_id: "codec-1".into(),
                run_id: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .history
        .unwrap();
    let Some(history_event::Attributes::WorkflowExecutionStartedEventAttributes(started)) =
        &history.events[0].attributes
    else {
        panic!("first event is not the start");
    };
    let stored = &started.input.as_ref().unwrap().payloads[0];
    assert_eq!(stored.metadata["encoding"], b"binary/encrypted");
    assert_eq!(stored.metadata["encryption-key-id"], KEY_ID.as_bytes());
    assert!(!String::from_utf8_lossy(&stored.data).contains("4242"));

    // A worker completes with a sealed result.
    let mut worker = dev_client(&server, "worker").await;
    let task = poll(&mut worker, "codec").await;
    let result = Payloads {
        payloads: vec![seal(&json_payloads("{\"charged\":true}").payloads[0])],
    };
    respond(&mut worker, task.task_token, vec![complete(result)]).await;

    let plain = cli.ok(&["show", "-w", "codec-1"]).await;
    assert!(
        row(&plain, "WorkflowExecutionStarted").contains("input=encrypted (key id test-key)"),
        "{plain}"
    );
    let decoded = run(with_codec(&["show", "-w", "codec-1"])).await;
    assert!(
        row(&decoded, "WorkflowExecutionStarted").contains("input={\"card\":\"4242\"}"),
        "{decoded}"
    );
    assert!(
        row(&decoded, "WorkflowExecutionCompleted").contains("result={\"charged\":true}"),
        "{decoded}"
    );
    let result = run(with_codec(&["result", "-w", "codec-1"])).await;
    assert_eq!(field(&result, "Result"), "{\"charged\":true}");

    // The namespace is substituted in the URL and sent as X-Namespace.
    let seen = codec.seen.lock().unwrap().clone();
    assert!(
        seen.contains(&("/default/encode".to_string(), NS.to_string())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("/default/decode".to_string(), NS.to_string())),
        "{seen:?}"
    );

    // A wrong token: the codec's refusal is reported, nothing is shown undecoded silently.
    let mut args = with_codec(&["show", "-w", "codec-1"]);
    let auth = args.iter().position(|a| a == TOKEN).unwrap();
    args[auth] = "Bearer wrong".into();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, err) = cli.fails(&refs).await;
    assert!(err.contains("401"), "{err}");
    assert!(
        !err.contains("Bearer wrong"),
        "the token is never printed: {err}"
    );

    // Plain http:// is refused before anything is sent.
    let (_, err) = cli
        .fails(&[
            "show",
            "-w",
            "codec-1",
            "--codec-endpoint",
            "http://127.0.0.1:1/",
        ])
        .await;
    assert!(err.contains("https://"), "{err}");
}
