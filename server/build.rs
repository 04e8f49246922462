//! Generates the tonic server traits for Temporal's `WorkflowService` and `OperatorService` from
//! the descriptor set that `temporalio-protos` builds, so no `.proto` file ever enters this
//! repository and the message types stay those of the `temporalio-protos` crate.

use std::{collections::HashMap, env, error::Error, fmt::Write as _, fs, path::PathBuf};

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet, field_descriptor_proto::Type};

/// (service file, service name, name of the generated namespace-field table).
const SERVICES: [(&str, &str, &str); 2] = [
    (
        "temporal/api/workflowservice/v1/service.proto",
        "WorkflowService",
        "NAMESPACE_FIELDS",
    ),
    (
        "temporal/api/operatorservice/v1/service.proto",
        "OperatorService",
        "OPERATOR_NAMESPACE_FIELDS",
    ),
];

fn main() -> Result<(), Box<dyn Error>> {
    // Cargo passes the `links = "temporalio_protos"` metadata only to direct dependents.
    let path = env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH").map_err(
        |_| "temporalio-protos did not export DESCRIPTOR_PATH; is it a direct dependency?",
    )?;
    println!("cargo:rerun-if-changed={path}");
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
    let mut fds = FileDescriptorSet::decode(fs::read(&path)?.as_slice())?;
    write_namespace_fields(&fds)?;
    fds.file
        .retain(|file| SERVICES.iter().any(|(name, _, _)| file.name() == *name));
    if fds.file.len() != SERVICES.len() {
        return Err(format!("a service file of {SERVICES:?} is missing from {path}").into());
    }
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .generate_default_stubs(true)
        .extern_path(".temporal", "::temporalio_protos::temporal")
        .compile_fds(fds)?;
    Ok(())
}

/// Writes one table per service: for every method whose request has a string field named
/// `namespace`, that field's number. The authorization layer reads the namespace with it before
/// the request is decoded.
fn write_namespace_fields(fds: &FileDescriptorSet) -> Result<(), Box<dyn Error>> {
    let mut messages: HashMap<String, &DescriptorProto> = HashMap::new();
    for file in &fds.file {
        for message in &file.message_type {
            messages.insert(format!(".{}.{}", file.package(), message.name()), message);
        }
    }
    let mut out = String::new();
    for (file_name, service_name, table) in SERVICES {
        let service = fds
            .file
            .iter()
            .find(|file| file.name() == file_name)
            .and_then(|file| file.service.iter().find(|s| s.name() == service_name))
            .ok_or_else(|| format!("{service_name} not found in the descriptor set"))?;
        writeln!(
            out,
            "/// {service_name}: (method, field number of its request's `namespace` string).\n\
             const {table}: &[(&str, u32)] = &["
        )?;
        for method in &service.method {
            let input = messages
                .get(method.input_type())
                .ok_or_else(|| format!("request type {} not found", method.input_type()))?;
            let field = input
                .field
                .iter()
                .find(|f| f.name() == "namespace" && f.r#type() == Type::String);
            if let Some(field) = field {
                writeln!(out, "    ({:?}, {}),", method.name(), field.number())?;
            }
        }
        out.push_str("];\n");
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("namespace_fields.rs"), out)?;
    Ok(())
}
