package main

import (
	"context"
	"time"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/order"
)

// create posts ord; with a wait, the API answers once the order has settled
// (settled is then its status) or, after the wait, as without one.
func (o *orderCLI) create(ctx context.Context, c *api.Client, ord order.Order, wait time.Duration) (api.Created, *api.OrderStatus, error) {
	if wait <= 0 {
		res, err := c.CreateOrder(ctx, ord)
		return res, nil, err
	}
	return c.CreateOrderWait(ctx, ord, wait)
}
