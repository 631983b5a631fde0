//! Network namespaces on a bridge, with the cuts and losses the partition drill applies.

use crate::harness::run_cmd;
use kp_e2e::{kpledger_bin, Cluster};

/// Prefix of every interface and namespace the partition drill creates, so
/// that leftovers of an interrupted run are found and removed.
const NS_PREFIX: &str = "kpd";
/// The drill's private subnet; node I is `.I+1`, the host side `.254`.
const SUBNET: &str = "10.213.77";
const NS_NODES_MAX: usize = 16;

/// Network namespaces `kpd-nI`, each with a veth into the bridge `kpd-br` in
/// the host namespace; removed on drop (killing nothing but the drill's own
/// interfaces and namespaces).
pub struct Netns {
    nodes: usize,
    cuts: Vec<(usize, usize)>,
}

impl Netns {
    fn ns(i: usize) -> String {
        format!("{NS_PREFIX}-n{i}")
    }
    /// Node `i`'s address.
    pub fn ip(i: usize) -> String {
        format!("{SUBNET}.{}", i + 1)
    }
    fn cleanup() {
        for i in 0..NS_NODES_MAX {
            let _ = run_cmd(&["ip", "netns", "del", &Netns::ns(i)]);
            let _ = run_cmd(&["ip", "link", "del", &format!("{NS_PREFIX}-v{i}")]);
        }
        let _ = run_cmd(&["ip", "link", "del", &format!("{NS_PREFIX}-br")]);
    }
    /// Creates `nodes` namespaces on one bridge.
    pub fn create(nodes: usize) -> Result<Netns, String> {
        if nodes > NS_NODES_MAX {
            return Err(format!("at most {NS_NODES_MAX} nodes"));
        }
        Netns::cleanup();
        let net = Netns {
            nodes,
            cuts: Vec::new(),
        };
        let br = format!("{NS_PREFIX}-br");
        run_cmd(&["ip", "link", "add", &br, "type", "bridge"])?;
        run_cmd(&["ip", "addr", "add", &format!("{SUBNET}.254/24"), "dev", &br])?;
        run_cmd(&["ip", "link", "set", &br, "up"])?;
        for i in 0..nodes {
            let (ns, host, inner) = (
                Netns::ns(i),
                format!("{NS_PREFIX}-v{i}"),
                format!("{NS_PREFIX}-p{i}"),
            );
            run_cmd(&["ip", "netns", "add", &ns])?;
            run_cmd(&[
                "ip", "link", "add", &host, "type", "veth", "peer", "name", &inner,
            ])?;
            run_cmd(&["ip", "link", "set", &inner, "netns", &ns])?;
            run_cmd(&["ip", "link", "set", &host, "master", &br])?;
            run_cmd(&["ip", "link", "set", &host, "up"])?;
            run_cmd(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            run_cmd(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", Netns::ip(i)),
                "dev",
                &inner,
            ])?;
            run_cmd(&["ip", "-n", &ns, "link", "set", &inner, "up"])?;
        }
        Ok(net)
    }
    /// Cuts `a` and `b` apart in both directions (a blackhole route on each side).
    pub fn cut(&mut self, a: usize, b: usize) -> Result<(), String> {
        for (x, y) in [(a, b), (b, a)] {
            run_cmd(&[
                "ip",
                "-n",
                &Netns::ns(x),
                "route",
                "add",
                "blackhole",
                &format!("{}/32", Netns::ip(y)),
            ])?;
            self.cuts.push((x, y));
        }
        Ok(())
    }
    /// Cuts every link between the two groups.
    pub fn split(&mut self, left: &[usize], right: &[usize]) -> Result<(), String> {
        for &a in left {
            for &b in right {
                self.cut(a, b)?;
            }
        }
        Ok(())
    }
    /// Node `i` loses every packet it sends; it still receives. (A blackhole
    /// route on its side only: `tc netem` is not in every kernel.)
    pub fn drop_outgoing(&mut self, i: usize) -> Result<(), String> {
        for j in (0..self.nodes).filter(|&j| j != i) {
            run_cmd(&[
                "ip",
                "-n",
                &Netns::ns(i),
                "route",
                "add",
                "blackhole",
                &format!("{}/32", Netns::ip(j)),
            ])?;
            self.cuts.push((i, j));
        }
        Ok(())
    }
    /// Removes every cut and loss.
    pub fn heal(&mut self) -> Result<(), String> {
        for (x, y) in std::mem::take(&mut self.cuts) {
            run_cmd(&[
                "ip",
                "-n",
                &Netns::ns(x),
                "route",
                "del",
                "blackhole",
                &format!("{}/32", Netns::ip(y)),
            ])?;
        }
        Ok(())
    }
    /// Rewrites the node configurations of `cluster` to listen on the
    /// namespace addresses, and points its RPC addresses there.
    pub fn configure(&self, cluster: &mut Cluster) -> Result<(), String> {
        for i in 0..self.nodes {
            let path = cluster.nodes[i].dir.join("node.toml");
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let mut config: toml::Value = toml::from_str(&text).map_err(|e| e.to_string())?;
            config["network"]["listen"] =
                toml::Value::String(format!("/ip4/{}/tcp/26600", Netns::ip(i)));
            config["network"]["peers"] = toml::Value::Array(
                (0..self.nodes)
                    .filter(|&j| j != i)
                    .map(|j| toml::Value::String(format!("/ip4/{}/tcp/26600", Netns::ip(j))))
                    .collect(),
            );
            config["rpc"]["listen"] = toml::Value::String(format!("{}:26601", Netns::ip(i)));
            let text = toml::to_string(&config).map_err(|e| e.to_string())?;
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            cluster.nodes[i].rpc = format!("{}:26601", Netns::ip(i));
        }
        Ok(())
    }
    /// Starts node `i` of `cluster` inside its namespace; the cluster owns
    /// the process (and kills it on drop).
    pub fn start(&self, cluster: &mut Cluster, i: usize) -> Result<(), String> {
        let node = &mut cluster.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("node.log"))
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        // `ip netns exec` enters the namespace and then execs the node, so
        // the child's pid is the node's own and SIGKILL reaches it.
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &Netns::ns(i)])
            .arg(kpledger_bin())
            .args(["node", "--config"])
            .arg(node.dir.join("node.toml"))
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| e.to_string())?;
        node.child = Some(child);
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        Netns::cleanup();
    }
}
