# An example environment: network, Kapsule cluster, managed PostgreSQL 15, uploads bucket
# and DNS for one Participe deployment. Copy this folder per environment; docs/operations.md
# explains what to install in the cluster afterwards (ingress controller, cert-manager, the
# chart) and how the outputs feed the chart's Secrets.

locals {
  tags = ["participe", var.environment]
}

resource "scaleway_vpc" "this" {
  name   = "${var.environment}-participe"
  region = var.region
  tags   = local.tags
}

resource "scaleway_vpc_private_network" "this" {
  name   = "${var.environment}-participe"
  region = var.region
  vpc_id = scaleway_vpc.this.id
  tags   = local.tags

  ipv4_subnet {
    subnet = var.private_network_cidr
  }
}

module "kubernetes" {
  source = "../../modules/kubernetes"

  name               = "${var.environment}-participe"
  region             = var.region
  zone               = var.zone
  kubernetes_version = var.kubernetes_version
  private_network_id = scaleway_vpc_private_network.this.id
  node_type          = var.node_type
  edge_ip_enabled    = var.custom_domains_edge
  tags               = local.tags
}

module "database" {
  source = "../../modules/database"

  name               = "${var.environment}-participe"
  region             = var.region
  node_type          = var.database_node_type
  engine             = "PostgreSQL-15"
  is_ha_cluster      = var.database_ha
  private_network_id = scaleway_vpc_private_network.this.id
  tags               = local.tags
}

module "object_storage" {
  source = "../../modules/object-storage"

  bucket_name = var.uploads_bucket_name
  region      = var.region
  project_id  = var.project_id
  tags        = { environment = var.environment, application = "participe" }
}

module "dns" {
  source = "../../modules/dns"

  dns_zone       = var.dns_zone
  base_subdomain = var.base_subdomain
  ingress_ip     = module.kubernetes.ingress_ip
}
