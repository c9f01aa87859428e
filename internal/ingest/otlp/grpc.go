package otlp

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	grpcencoding "google.golang.org/grpc/encoding"
	// gzip, which the OpenTelemetry Collector's otlp exporter sends by
	// default; gRPC bounds its output by the server's MaxRecvMsgSize.
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/horus-obs/horus/internal/ingest"
)

// rawMessage is an OTLP/gRPC message as bytes: a request before it is
// checked and decoded, or an encoded response.
type rawMessage struct{ b []byte }

// rawCodec passes rawMessages as their bytes and hands every other
// message to next (grpc-go's protobuf codec), so the services see a
// request before pdata decodes it.
type rawCodec struct{ next grpcencoding.CodecV2 }

// Marshal implements grpc-go's encoding.CodecV2.
func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
	}
	if c.next == nil {
		return nil, fmt.Errorf("otlp: cannot encode %T", v)
	}
	return c.next.Marshal(v)
}

// Unmarshal implements grpc-go's encoding.CodecV2.
func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*rawMessage); ok {
		m.b = data.Materialize()
		return nil
	}
	if c.next == nil {
		return fmt.Errorf("otlp: cannot decode %T", v)
	}
	return c.next.Unmarshal(data, v)
}

// Name implements grpc-go's encoding.CodecV2: it replaces the protobuf
// codec.
func (rawCodec) Name() string { return "proto" }

// grpcService is an OTLP service (its one method, Export) whose requests
// exp decodes and consumes.
func (r *Receiver) grpcService(name, signal string, exp export) *grpc.ServiceDesc {
	method := "/" + name + "/Export"
	return &grpc.ServiceDesc{
		ServiceName: name,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Export",
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				in := new(rawMessage)
				if err := dec(in); err != nil {
					return nil, err
				}
				call := func(ctx context.Context, req any) (any, error) {
					return r.exportGRPC(ctx, signal, exp, req.(*rawMessage).b)
				}
				if ic == nil {
					return call(ctx, in)
				}
				return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, call)
			},
		}},
	}
}

// exportGRPC answers one OTLP/gRPC request: the encoded response, or a
// status naming the problem (InvalidArgument for bad data,
// ResourceExhausted for too much of it, Unavailable when the store failed).
func (r *Receiver) exportGRPC(ctx context.Context, signal string, exp export, body []byte) (any, error) {
	t, err := r.grpcTenant(ctx, signal)
	if err != nil {
		return nil, err
	}
	resp, err := exp(ctx, ingest.ProtoOTLPGRPC, t, encProto, body)
	if err != nil {
		var u undecodable
		if errors.As(err, &u) {
			r.m.Reject(signal, ingest.ProtoOTLPGRPC, u.err.Reason, 1)
		}
		return nil, status.Error(grpcCode(err), err.Error())
	}
	b, err := resp.MarshalProto()
	if err != nil {
		return nil, status.Error(grpcCode(err), err.Error())
	}
	return &rawMessage{b: b}, nil
}
