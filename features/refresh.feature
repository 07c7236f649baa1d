Feature: refresh
