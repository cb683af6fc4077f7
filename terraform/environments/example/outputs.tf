output "base_domain" {
  description = "PARTICIPE_BASE_DOMAIN (chart value baseDomain)."
  value       = module.dns.base_domain
}

output "kubeconfig" {
  description = "Kubeconfig of the cluster: terraform output -raw kubeconfig > ~/.kube/participe-example"
  value       = module.kubernetes.kubeconfig
  sensitive   = true
}

output "ingress_ip_id" {
  description = "Reserved IP for the ingress controller's Service (scw-loadbalancer-ip-ids annotation)."
  value       = module.kubernetes.ingress_ip_id
}

output "edge_ip" {
  description = "Address collectivités point their custom domains at (A record), or null."
  value       = module.kubernetes.edge_ip
}

output "database_url" {
  description = "DATABASE_URL for the participe-database Secret: terraform output -raw database_url"
  value       = module.database.database_url
  sensitive   = true
}

output "database_private_ip" {
  description = "Database address on the Private Network."
  value       = module.database.private_ip
}

output "private_network_cidr" {
  description = "Private Network range, for the chart's networkPolicy.egress.postgresql."
  value       = var.private_network_cidr
}

output "s3" {
  description = "Chart values s3.endpoint, s3.bucket, s3.region."
  value = {
    endpoint = module.object_storage.endpoint
    bucket   = module.object_storage.bucket_name
    region   = module.object_storage.region
  }
}

output "s3_access_key_id" {
  description = "AWS_ACCESS_KEY_ID for the participe-s3 Secret."
  value       = module.object_storage.access_key_id
}

output "s3_secret_access_key" {
  description = "AWS_SECRET_ACCESS_KEY for the participe-s3 Secret: terraform output -raw s3_secret_access_key"
  value       = module.object_storage.secret_access_key
  sensitive   = true
}
