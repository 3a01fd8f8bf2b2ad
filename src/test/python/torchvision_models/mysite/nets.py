"""A small CNN whose classes live in the user's package mysite.nets, so torch.save(model) names
GLOBALs 'mysite.nets SiteNet' and 'mysite.nets Block' (what a training script that imports its
model from its own package writes)."""
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)
        self.register_buffer("scale", torch.ones(cout))

    def forward(self, x):
        return self.act(self.bn(self.conv(x))) * self.scale.view(1, -1, 1, 1)


class SiteNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(Block(3, 16), nn.MaxPool2d(2), Block(16, 32))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.features(x)), 1))
