# The prod bot: its own project, acting on fluxori-prod. The image is given at apply:
#   terraform apply -var-file=environments/prod.tfvars -var image=IMAGE:TAG
project                         = "fluxori-ops-prod"
fluxori_project                 = "fluxori-prod"
environment                     = "prod"
region                          = "africa-south1"
slack_ops_channel               = "C0FLUXOPS" # replace: the channel id of #fluxori-ops in this environment's workspace
fluxori_runtime_service_account = "fluxori-runtime@fluxori-prod.iam.gserviceaccount.com"
log_level                       = "INFO"
max_instances                   = 5
error_rate_threshold            = 5
latency_threshold_ms            = 1000

# Who may request and approve changes (bot/policy.py); without it, anyone in the channel may,
# and a prod change needs a second person. For example:
# access_policy = <<-TOML
#   [policy.prod]
#   requesters = ["S0SREONCALL"]
#   approvers  = ["S0SREONCALL"]
#   two_person = true
# TOML
