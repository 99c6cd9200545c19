//! `networking.istio.io` `VirtualService` and `DestinationRule` (v1alpha3, v1beta1, v1), read
//! leniently: hosts, the HTTP routes' destinations and weights, and the subsets. Weights are
//! checked with current Istio's rules ([`validate_weights`]: negative weights and an all-zero
//! route are rejected, other totals are relative weights).

use super::decode::{Fields, read_string, read_string_map, scalar_text};
use super::diagnostic::{Pos, Report};
use super::manifests::read_metadata;
use super::model::ServiceManifest;
use super::tree::{Node, Value};
use crate::traffic::mesh::{WeightError, validate_weights};
use std::collections::BTreeMap;

/// The apiVersions of the Istio networking kinds rollsim reads.
pub(crate) const ISTIO_VERSIONS: [&str; 3] =
    ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"];

/// One `route[]` entry.
#[derive(Clone, Debug)]
pub(crate) struct Destination {
    pub host: String,
    pub host_pos: Pos,
    pub subset: Option<(String, Pos)>,
    /// As written (0 when absent), or 100 for a lone destination without a weight.
    pub weight: i32,
}

/// One `http[]` entry's `route`.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub destinations: Vec<Destination>,
    pub pos: Pos,
}

pub(crate) struct VirtualServiceDoc {
    pub name: String,
    pub namespace: String,
    pub name_pos: Pos,
    pub http: Vec<Route>,
}

pub(crate) struct Subset {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub pos: Pos,
}

pub(crate) struct DestinationRuleDoc {
    pub name: String,
    pub namespace: String,
    pub host: String,
    pub subsets: Vec<Subset>,
}

/// `myapp`, `myapp.ns`, `myapp.ns.svc`, `myapp.ns.svc.cluster.local` → (name, namespace), the
/// namespace defaulting to `namespace` (the object's own). `None` for other hosts.
pub(crate) fn service_of_host(host: &str, namespace: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] if !name.is_empty() && *name != "*" => Some((name.to_string(), namespace.to_string())),
        [name, ns] | [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"] => {
            Some((name.to_string(), ns.to_string()))
        }
        _ => None,
    }
}

/// The Service a host names, among `services`.
pub(crate) fn find_service<'s>(
    services: &'s [ServiceManifest],
    host: &str,
    namespace: &str,
) -> Option<&'s ServiceManifest> {
    let (name, ns) = service_of_host(host, namespace)?;
    services.iter().find(|s| s.name == name && s.namespace == ns)
}

fn list<'n>(report: &mut Report, node: &'n Node, what: &str) -> Option<&'n [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        _ => {
            report
                .error(node.pos, format!("`{what}` must be a list, found {}", node.describe()))
                .label("expected a list");
            None
        }
    }
}

fn read_weight(report: &mut Report, node: &Node, what: &str) -> Option<i32> {
    let text = scalar_text(report, node, what, "a whole number")?;
    match text.parse::<i32>() {
        Ok(w) => Some(w),
        Err(_) => {
            report
                .error(node.pos, format!("`{what}` must be a whole number, found {}", node.describe()))
                .label("expected a weight such as `90`");
            None
        }
    }
}

pub(crate) fn read_virtual_service(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
) -> Option<VirtualServiceDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec = doc.req_child(report, "spec", "{hosts: [myapp], http: [{route: ...}]}")?;
    let hosts = match spec.opt("hosts") {
        Some(n) => list(report, n, "spec.hosts").and_then(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, h)| read_string(report, h, &format!("spec.hosts[{i}]")))
                .collect()
        }),
        None => Some(Vec::new()),
    };
    let http = match spec.opt("http") {
        Some(n) => list(report, n, "spec.http").and_then(|items| {
            let mut routes = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match read_route(report, item, &format!("spec.http[{i}]")) {
                    Some(r) => routes.push(r),
                    None => ok = false,
                }
            }
            ok.then_some(routes)
        }),
        None => Some(Vec::new()),
    };
    // `hosts` is checked for its shape only: the release follows the destinations' hosts.
    let (name, namespace, _hosts): (_, _, Vec<String>) = (name?, namespace?, hosts?);
    Some(VirtualServiceDoc { name: name.0, namespace, name_pos: name.1, http: http? })
}

fn read_route(report: &mut Report, item: &Node, what: &str) -> Option<Route> {
    let mut f = Fields::new(report, item, item.pos, what)?;
    let Some(route) = f.opt("route") else {
        // A redirect or a direct response: no destinations.
        return Some(Route { destinations: Vec::new(), pos: item.pos });
    };
    let items = list(report, route, &f.sub("route"))?;
    let mut destinations = Vec::new();
    let mut weight_nodes = Vec::new();
    for (i, d) in items.iter().enumerate() {
        let path = format!("{what}.route[{i}]");
        let mut df = Fields::new(report, d, d.pos, path.clone())?;
        let mut dest = df.req_child(report, "destination", "{host: myapp, subset: v1}")?;
        let host_node = dest.req(report, "host", "myapp")?;
        let host = read_string(report, host_node, &format!("{path}.destination.host"))?;
        let subset = match dest.opt("subset") {
            Some(n) => Some((read_string(report, n, &format!("{path}.destination.subset"))?, n.pos)),
            None => None,
        };
        let weight_node = df.opt("weight");
        let weight = match weight_node {
            Some(n) => read_weight(report, n, &format!("{path}.weight"))?,
            None => 0,
        };
        weight_nodes.push(weight_node.map_or(d.pos, |n| n.pos));
        destinations.push(Destination { host, host_pos: host_node.pos, subset, weight });
    }
    // "If there is only one destination in a rule, the weight value is assumed to be 100."
    if let [only] = destinations.as_mut_slice()
        && only.weight == 0
    {
        only.weight = 100;
    }
    let weights: Vec<i32> = destinations.iter().map(|d| d.weight).collect();
    if let Err(e) = validate_weights(&weights) {
        let pos = match e {
            WeightError::Negative { index, .. } => weight_nodes[index],
            _ => f.key_pos("route").unwrap_or(route.pos),
        };
        report
            .error(pos, format!("invalid VirtualService route `{what}.route`: {e}"))
            .label("Istio rejects this route")
            .help(
                "weights are relative and must not be negative; with several destinations at least one \
                 needs a weight above 0 (e.g. 90 and 10)",
            );
        return None;
    }
    Some(Route { destinations, pos: route.pos })
}

pub(crate) fn read_destination_rule(
    report: &mut Report,
    root: &Node,
    kind_pos: Pos,
) -> Option<DestinationRuleDoc> {
    let mut doc = Fields::new(report, root, kind_pos, "")?;
    let (name, namespace) = read_metadata(report, &mut doc);
    let mut spec =
        doc.req_child(report, "spec", "{host: myapp, subsets: [{name: v1, labels: {version: v1}}]}")?;
    let host = spec.req(report, "host", "myapp").and_then(|n| read_string(report, n, "spec.host"));
    let subsets = match spec.opt("subsets") {
        Some(n) => list(report, n, "spec.subsets").and_then(|items| {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("spec.subsets[{i}]");
                let mut f = Fields::new(report, item, item.pos, path.clone())?;
                let name_node = f.req(report, "name", "v1")?;
                let name = read_string(report, name_node, &format!("{path}.name"))?;
                let labels = match f.opt("labels") {
                    Some(n) => read_string_map(report, n, &format!("{path}.labels"))?,
                    None => BTreeMap::new(),
                };
                out.push(Subset { name, labels, pos: name_node.pos });
            }
            Some(out)
        }),
        None => Some(Vec::new()),
    };
    Some(DestinationRuleDoc { name: name?.0, namespace: namespace?, host: host?, subsets: subsets? })
}
