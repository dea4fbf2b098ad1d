# The routes of eventbus's five use cases, provisioned with Terraform.
# See README.md for running a bus these routes fit, and for the provider.

terraform {
  required_providers {
    eventbus = {
      source = "eventbus-go/eventbus"
    }
  }
}

variable "endpoint" {
  description = "The bus's base URL."
  type        = string
  default     = "http://127.0.0.1:8080"
}

variable "kafka" {
  description = "The Kafka cluster of the log pipeline."
  type        = string
  default     = "kafka://127.0.0.1:9092"
}

provider "eventbus" {
  endpoint = var.endpoint
  # token = "…" or EVENTBUS_TOKEN, once the bus checks tokens.
}

# 1. Async work: a sign-up emits user.signed_up; the mailer plugin sends the
#    verification code, retried with backoff while the mail server is down.
resource "eventbus_route" "signup_mail" {
  name  = "signup-mail"
  match = jsonencode({ type = ["user.signed_up"] })
  target {
    plugin { name = "mailer" }
  }
  delivery {
    max_attempts = 8
    max_age      = "1h"
    backoff {
      initial = "500ms"
      max     = "30s"
    }
  }
}

# 2. Decoupling: the inventory plugin reserves stock for each order.created
#    and replies stock.reserved (or stock.rejected), which the second route
#    hands back to the order service. Neither service knows the other.
resource "eventbus_route" "reserve_stock" {
  name  = "reserve-stock"
  match = jsonencode({ type = ["order.created"] })
  target {
    plugin { name = "inventory" }
  }
}

resource "eventbus_route" "stock_answers" {
  name = "stock-answers"
  match = jsonencode({
    type   = ["stock.reserved", "stock.rejected"]
    source = ["inventory"]
  })
  target {
    http { url = "http://127.0.0.1:8082/hooks/stock" }
  }
}

# 3. Traffic control: the flash sale queues the first 100 orders; past that,
#    ingress diverts the rest to the sold-out page's route instead.
resource "eventbus_bus" "shop" {
  name = "shop"
}

resource "eventbus_route" "sold_out" {
  name = "sold-out"
  bus  = eventbus_bus.shop.name
  # It takes only what the flash sale diverts: no event the shop emits has
  # this type.
  match = jsonencode({ type = ["flash-sale.diverted-only"] })
  target {
    http { url = "http://127.0.0.1:8083/sold-out" }
  }
}

resource "eventbus_route" "flash_sale" {
  name  = "flash"
  bus   = eventbus_bus.shop.name
  match = jsonencode({ type = ["order.placed"] })
  target {
    http { url = "http://127.0.0.1:8083/orders" }
  }
  delivery {
    max_depth = 100
    overflow  = "divert:${eventbus_route.sold_out.name}"
  }
}

# 4. Log pipeline: collectors emit log events at a high rate; they are stored
#    on Kafka and published to a topic that the storage consumer batches
#    from.
resource "eventbus_route" "logs" {
  name    = "logs"
  match   = jsonencode({ type = [{ prefix = "log." }] })
  backend = var.kafka
  target {
    topic {
      url  = var.kafka
      name = "logs.stored"
    }
  }
  delivery {
    max_inflight = 64
  }
}

# 5. Real-time chat: messages of one room (the event's subject) reach the
#    chat server one at a time, in the order they were sent.
resource "eventbus_route" "chat_room" {
  name  = "chat-room"
  match = jsonencode({ type = ["chat.message"] })
  target {
    http {
      url     = "http://127.0.0.1:8084/hooks/chat"
      timeout = "2s"
    }
  }
  delivery {
    ordering_key = "subject"
    max_attempts = 3
  }
}

# Every route of the process, with the bus's defaults filled in.
data "eventbus_routes" "all" {
  depends_on = [
    eventbus_route.signup_mail,
    eventbus_route.reserve_stock,
    eventbus_route.stock_answers,
    eventbus_route.flash_sale,
    eventbus_route.logs,
    eventbus_route.chat_room,
  ]
}

output "routes" {
  description = "The name and bus of every route."
  value       = { for r in data.eventbus_routes.all.routes : r.name => r.bus }
}
