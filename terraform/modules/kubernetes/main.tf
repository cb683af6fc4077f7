# A Kapsule cluster on a Private Network, one autoscaled, autohealed pool, and reserved
# load-balancer IPs so that DNS records survive the re-creation of the ingress controller's
# (and the edge's) Service.

resource "scaleway_k8s_cluster" "this" {
  name               = var.name
  description        = "Participe: participatory democracy for collectivités"
  region             = var.region
  version            = var.kubernetes_version
  cni                = var.cni
  private_network_id = var.private_network_id
  tags               = var.tags

  # Load balancers and volumes created from inside Kubernetes (the ingress controller, the
  # edge's certificate volume) outlive the cluster: someone decides what to delete.
  delete_additional_resources = false

  auto_upgrade {
    enable                        = true
    maintenance_window_day        = var.maintenance_window_day
    maintenance_window_start_hour = var.maintenance_window_start_hour
  }

  autoscaler_config {
    disable_scale_down          = false
    scale_down_unneeded_time    = "10m"
    balance_similar_node_groups = true
  }
}

resource "scaleway_k8s_pool" "default" {
  cluster_id             = scaleway_k8s_cluster.this.id
  name                   = "${var.name}-default"
  region                 = var.region
  zone                   = var.zone
  node_type              = var.node_type
  size                   = var.pool_size
  min_size               = var.pool_min_size
  max_size               = var.pool_max_size
  autoscaling            = true
  autohealing            = true
  container_runtime      = "containerd"
  root_volume_size_in_gb = var.root_volume_size_in_gb
  public_ip_disabled     = var.public_ip_disabled
  tags                   = var.tags

  upgrade_policy {
    max_surge       = 1
    max_unavailable = 0
  }
}

resource "scaleway_lb_ip" "ingress" {
  zone = var.zone
  tags = concat(var.tags, ["${var.name}-ingress"])
}

resource "scaleway_lb_ip" "edge" {
  count = var.edge_ip_enabled ? 1 : 0

  zone = var.zone
  tags = concat(var.tags, ["${var.name}-edge"])
}
