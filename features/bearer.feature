Feature: bearer
