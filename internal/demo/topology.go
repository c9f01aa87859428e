package demo

import "github.com/horus-obs/horus/internal/demo/shop"

// Service describes one service of the shop: how many instances run and
// whom it calls.
type Service struct {
	// Name is the service name (the OTel resource attribute service.name
	// and the Prometheus job).
	Name string
	// Instances is how many processes run it, numbered 1..Instances.
	Instances int
	// Instrumented is false for the external providers (bank-api,
	// email-provider), which use no SDK: their callers' client spans make
	// them virtual nodes of the service graph, and Horus does not scrape
	// them.
	Instrumented bool
	// Calls are the services it calls (each instance gets their addresses).
	Calls []string
}

// Topology is the shop, callees after their callers.
var Topology = []Service{
	{Name: shop.Gateway, Instances: 1, Instrumented: true, Calls: []string{shop.Auth, shop.Orders, shop.Payments}},
	{Name: shop.Auth, Instances: 1, Instrumented: true},
	{Name: shop.Orders, Instances: 1, Instrumented: true, Calls: []string{shop.Products, shop.Notifications}},
	{Name: shop.Products, Instances: 1, Instrumented: true},
	{Name: shop.Payments, Instances: 3, Instrumented: true, Calls: []string{shop.FraudCheck, shop.BankAPI}},
	{Name: shop.FraudCheck, Instances: 1, Instrumented: true},
	{Name: shop.Notifications, Instances: 1, Instrumented: true, Calls: []string{shop.EmailProvider}},
	{Name: shop.BankAPI, Instances: 1},
	{Name: shop.EmailProvider, Instances: 1},
}
