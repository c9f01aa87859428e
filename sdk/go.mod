module github.com/horus-obs/horus/sdk

go 1.26.8
